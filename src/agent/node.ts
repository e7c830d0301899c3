// Which blocks this node serves and from which address: pure resolution from the spec and, in a
// cluster, what the Node object says (its InternalIP and the controller's blocks annotation).
import type { ClusterSpec } from "../spec/schema.ts";
import { UserError } from "../errors/user-error.ts";
import { nodePlan, plan, type NodePlan } from "../ipam/planner.ts";
import { checkedPool } from "../ipam/pool.ts";
import { parseCidr } from "../net/cidr.ts";
import type { OverlayPeer } from "../ipam/overlay-peers.ts";

/** What the cluster says about the node; absent when running without Kubernetes. */
export interface NodeFacts {
  internalIp?: string;
  /** Blocks from the aks-ipvlan.io/blocks annotation. */
  blocks: string[];
}

export type NodeResolution = { node: NodePlan } | { waiting: string };

export function resolveNode(spec: ClusterSpec, name: string, facts?: NodeFacts): NodeResolution {
  const listed = spec.nodes.find((node) => node.name === name);
  if (!facts) {
    if (!listed) {
      throw new UserError([
        {
          path: "--node",
          value: name,
          message:
            "the node is not in the spec's nodes, and without Kubernetes its block can only come from there",
          fix: `add the node to nodes in the spec, or run with --kube so the block comes from the node's annotation`,
        },
      ]);
    }
    return { node: plan(spec).nodes.find((node) => node.name === name)! };
  }
  const ip = listed?.ip ?? facts.internalIp;
  if (!ip) return { waiting: `node ${name} has no InternalIP yet` };
  const blocks = listed?.block ? [listed.block] : facts.blocks;
  if (blocks.length === 0) return { waiting: `node ${name} has no block yet (the controller assigns one)` };
  const pool = checkedPool(spec, listed ? [] : [{ name, ip }]);
  const outside = blocks.filter((block) => pool.indexOfBlock(parseCidr(block)) === undefined);
  if (outside.length > 0) {
    throw new UserError([
      {
        path: "aks-ipvlan.io/blocks",
        value: outside.join(","),
        message: `not a /${spec.blockSize} block of the pod pool ${spec.podPool.join(", ")}`,
        fix: "let the controller reassign the node's blocks, or correct the spec's podPool/blockSize",
      },
    ]);
  }
  return { node: nodePlan({ name, ip }, blocks, pool) };
}

/** Without Kubernetes (--once, the testbed): the overlay's peers are the spec's nodes and their planned blocks. */
export function plannedPeers(spec: ClusterSpec): OverlayPeer[] {
  return plan(spec).nodes.map((node) => ({
    name: node.name,
    ip: node.ip,
    blocks: node.blocks.map((block) => block.cidr),
  }));
}
