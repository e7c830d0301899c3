// The VNet routes a cluster needs: every node block, via the node that holds it. Pure.
//
// `desiredRoutes(spec, nodes)` is the controller's route output, and the testbed can program its
// emulated VNet from it: pass each node with its IP and the blocks of its `aks-ipvlan.io/blocks`
// annotation (or of `plan(spec).nodes`); the result has one RouteEntry per block (name from
// routeName, next hop type VirtualAppliance, next hop the node IP), ordered by node then block.
import { routeFor, type RouteEntry } from "../ipam/planner.ts";
import type { ClusterSpec } from "../spec/schema.ts";

export interface NodeBlocks {
  name: string;
  ip: string;
  blocks: readonly string[];
}

export function desiredRoutes(spec: ClusterSpec, nodes: readonly NodeBlocks[]): RouteEntry[] {
  return [...nodes]
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((node) => node.blocks.map((block) => routeFor(spec, block, node.ip)));
}
