// The planner: from a validated spec (and the blocks nodes already hold) to each node's blocks and how
// pods on other nodes reach them: the VNet routes (routing.mode vnet) or the overlay's node list
// (vxlan), with the pods' MTU. Pure and deterministic; the blocks come from the controller's allocation pass
// (assign.ts), so `plan` shows what the controller will write: nodes without a block take the lowest
// free block in node-name order, whatever order the spec lists them in.
import type { ClusterSpec } from "../spec/schema.ts";
import { UserError, type Finding } from "../errors/user-error.ts";
import { routeTableWarnings } from "../spec/limits.ts";
import { type Cidr, containsCidr, formatCidr, formatIp, lastAddress, parseCidr } from "../net/cidr.ts";
import { type BlockPool, checkedPool } from "./pool.ts";
import { assignBlocks } from "./assign.ts";
import { routeFor, type RouteEntry } from "../routes/routes.ts";
import { BlockAllocator } from "./allocator.ts";
import { type OverlayPeer, overlayPeers } from "./overlay-peers.ts";
import { podMtu } from "../spec/mtu.ts";

interface BlockPlan {
  cidr: string;
  firstPod: string;
  lastPod: string;
  capacity: number;
  /** host-local `subnet` for this block's range. */
  rangeSubnet: string;
  /** host-local `gateway`: never resolved in L3S (the pod side is NOARP), but host-local always sets one. */
  gateway: string;
}

export interface NodePlan {
  name: string;
  ip: string;
  blocks: BlockPlan[];
  capacity: number;
}

export interface Plan {
  routingMode: ClusterSpec["routing"]["mode"];
  /** The pods' MTU; unset: the master interface's. */
  podMtu?: number;
  nodes: NodePlan[];
  /** The Azure route table's entries (vnet; none in vxlan). */
  routes: RouteEntry[];
  /** Every node with its IP and blocks, the tunnel entries the other nodes program (vxlan; none in vnet). */
  overlay: OverlayPeer[];
  freeBlocks: number;
  warnings: Finding[];
}

export interface NodeInput {
  name: string;
  ip: string;
}

/**
 * Plans every node of the spec plus `extraNodes` (nodes the cluster has that the spec does not list; a
 * name the spec already lists is ignored). `held` maps node names to blocks they already hold (e.g. node
 * annotations): those blocks are kept, and a held block of a node that is not planned stays taken, so a
 * block is never handed to a second node while the first may still use it.
 * The blocks come from the controller's own allocation pass (assign.ts), fed the held blocks as both
 * ledger and annotations, so the plan is what the controller writes for the same nodes.
 * Every problem is reported at once in one UserError.
 */
export function plan(
  spec: ClusterSpec,
  options: { extraNodes?: NodeInput[]; held?: ReadonlyMap<string, readonly string[]> } = {},
): Plan {
  const listed = new Set(spec.nodes.map((node) => node.name));
  const extraNodes = uniqueByName(options.extraNodes ?? []).filter((node) => !listed.has(node.name));
  const nodes: NodeInput[] = [...spec.nodes, ...extraNodes];
  const pool = checkedPool(spec, extraNodes);
  const held = options.held ?? new Map<string, readonly string[]>();
  const errors: Finding[] = [...capacityErrors(spec, pool.capacity()), ...claimErrors(spec, pool, held)];
  if (errors.length > 0) throw new UserError(errors);

  const assignment = assignBlocks(spec, {
    ledger: new Map([...held].flatMap(([node, blocks]) => blocks.map((block) => [block, node] as const))),
    nodes: nodes.map((node) => ({ name: node.name, ip: node.ip, blocks: held.get(node.name) ?? [] })),
    due: new Set(),
  });
  const exhausted = new Set(assignment.exhausted);
  nodes.forEach((node, index) => {
    if (!exhausted.has(node.name)) return;
    errors.push({
      path: index < spec.nodes.length ? `nodes[${index}]` : `node ${node.name}`,
      value: node.name,
      message: `the pod pool is exhausted: no free /${spec.blockSize} block for this node`,
      fix: "add a CIDR to podPool, or use a longer blockSize",
    });
  });
  if (errors.length > 0) throw new UserError(errors);

  const planned = nodes.map((node) => nodePlan(node, assignment.blocksOf.get(node.name) ?? [], pool));
  const vnet = spec.routing.mode === "vnet";
  const routes = vnet
    ? planned.flatMap((node) => node.blocks.map((block) => routeFor(spec, block.cidr, node.ip)))
    : [];
  const mtu = podMtu(spec);
  return {
    routingMode: spec.routing.mode,
    ...(mtu === undefined ? {} : { podMtu: mtu }),
    nodes: planned,
    routes,
    overlay: vnet
      ? []
      : overlayPeers(planned.map((node) => ({ ...node, blocks: node.blocks.map((block) => block.cidr) }))),
    freeBlocks: assignment.freeBlocks,
    warnings: [
      ...planWarnings(spec, pool.capacity()),
      ...(vnet ? routeTableWarnings(routes.length, spec.routing.routeTableLimit) : []),
    ],
  };
}

/**
 * What the controller would only warn about, the plan refuses: a held block that is no longer the
 * node's to keep, and a pin that is outside the pool, forbidden or held by another node.
 */
function claimErrors(
  spec: ClusterSpec,
  pool: BlockPool,
  held: ReadonlyMap<string, readonly string[]>,
): Finding[] {
  const allocator = new BlockAllocator(pool);
  const errors: Finding[] = [];
  const claim = (block: string, owner: string, path: string, fix: string) => {
    if (allocator.ownerOf(block) === owner) return;
    const problem = allocator.claim(block, owner);
    if (problem) errors.push({ path, value: block, message: problem, fix });
  };
  // Held blocks first: a pin can never take a block away from the node using it.
  for (const [name, blocks] of held) {
    for (const block of blocks) {
      claim(
        block,
        name,
        `held[${name}]`,
        "release the block from the node (drain it) before changing the spec",
      );
    }
  }
  spec.nodes.forEach((node, index) => {
    if (node.block) {
      claim(
        node.block,
        node.name,
        `nodes[${index}].block`,
        "pin a free block of the pod pool, or remove the pin",
      );
    }
  });
  return errors;
}

function uniqueByName(nodes: readonly NodeInput[]): NodeInput[] {
  const seen = new Set<string>();
  return nodes.filter((node) => !seen.has(node.name) && Boolean(seen.add(node.name)));
}

export function nodePlan(node: NodeInput, blocks: readonly string[], pool: BlockPool): NodePlan {
  const planned = blocks.map((text) => blockPlan(parseCidr(text), pool));
  return {
    name: node.name,
    ip: node.ip,
    blocks: planned,
    capacity: planned.reduce((sum, block) => sum + block.capacity, 0),
  };
}

function blockPlan(block: Cidr, pool: BlockPool): BlockPlan {
  const segment = pool.segmentOf(pool.indexOfBlock(block)!);
  return {
    cidr: formatCidr(block),
    firstPod: formatIp(block.base),
    lastPod: formatIp(lastAddress(block)),
    capacity: pool.capacity(),
    rangeSubnet: formatCidr(segment.rangeSubnet),
    gateway: formatIp(segment.gateway),
  };
}

function capacityErrors(spec: ClusterSpec, blockCapacity: number): Finding[] {
  const nodeCapacity = blockCapacity * spec.maxBlocksPerNode;
  if (spec.maxPodsPerNode === undefined || spec.maxPodsPerNode <= nodeCapacity) return [];
  const neededPrefix = spec.blockSize - Math.ceil(Math.log2(spec.maxPodsPerNode / nodeCapacity));
  return [
    {
      path: "maxPodsPerNode",
      value: spec.maxPodsPerNode,
      message: `a node holds at most ${nodeCapacity} pod addresses (${spec.maxBlocksPerNode} × /${spec.blockSize}), fewer than the kubelet's max-pods`,
      fix: `set the node pool's --max-pods to ${nodeCapacity} or less, or use blockSize: ${Math.max(16, neededPrefix)}`,
    },
  ];
}

function planWarnings(spec: ClusterSpec, blockCapacity: number): Finding[] {
  const warnings: Finding[] = [];
  const nodeSubnet = parseCidr(spec.nodeSubnet);
  const nodeCapacity = blockCapacity * spec.maxBlocksPerNode;
  if (spec.maxPodsPerNode === undefined) {
    warnings.push({
      path: "maxPodsPerNode",
      message: `not set: the kubelet may schedule more pods than a node's ${nodeCapacity} addresses; the extra pods fail with "no IP addresses available"`,
      fix: `create the node pool with --max-pods ${nodeCapacity} and set maxPodsPerNode: ${nodeCapacity}`,
    });
  }
  spec.podPool.forEach((text, index) => {
    if (containsCidr(nodeSubnet, parseCidr(text))) {
      warnings.push({
        path: `podPool[${index}]`,
        value: text,
        message:
          "the pod pool is inside the node subnet: Azure gives new NICs (scale-out, upgrades, other VMs) addresses from the same subnet, which can collide with pod addresses",
        fix: "use a pod pool outside the node subnet that the route table sends to the nodes (e.g. 10.241.0.0/16), or list the addresses Azure may hand out under reserved",
      });
    }
  });
  return warnings;
}
