// The VNet routes a cluster needs: every node block, via the node that holds it, and the names that
// mark a route as this cluster's. Pure; diff.ts compares them with a table, sync.ts applies the diff.
//
// `desiredRoutes(spec, nodes)` is the controller's route output, and the testbed can program its
// emulated VNet from it: pass each node with its IP and the blocks of its `aks-ipvlan.io/blocks`
// annotation (or of `plan(spec).nodes`); the result has one RouteEntry per block (name from
// routeName, next hop type VirtualAppliance, next hop the node IP), ordered by node then block.
import type { ClusterSpec } from "../spec/schema.ts";

/** A user-defined route the VNet's route table needs: the block, via the node that holds it. */
export interface RouteEntry {
  name: string;
  addressPrefix: string;
  nextHopType: "VirtualAppliance";
  nextHopIpAddress: string;
}

export const ROUTE_NAME_PREFIX = "aks-ipvlan-";

export function routeName(clusterName: string, block: string): string {
  return `${ROUTE_NAME_PREFIX}${clusterName}-${block.replace(/[./]/g, "-")}`;
}

export function routeFor(spec: ClusterSpec, block: string, nodeIp: string): RouteEntry {
  return {
    name: routeName(spec.name, block),
    addressPrefix: block,
    nextHopType: "VirtualAppliance",
    nextHopIpAddress: nodeIp,
  };
}

export interface NodeBlocks {
  name: string;
  ip: string;
  blocks: readonly string[];
}

export function desiredRoutes(spec: ClusterSpec, nodes: readonly NodeBlocks[]): RouteEntry[] {
  return [...nodes]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((node) => node.blocks.map((block) => routeFor(spec, block, node.ip)));
}
