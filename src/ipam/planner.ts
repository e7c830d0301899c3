// The planner: from a validated spec (and the blocks nodes already hold) to each node's blocks and the
// VNet routes they need. Pure and deterministic: nodes without a block take the lowest free block in
// the order they are listed, so appending a node never moves another node's block.
import type { ClusterSpec } from "../spec/schema.ts";
import { UserError, type Finding } from "../errors/user-error.ts";
import { routeTableWarnings } from "../spec/limits.ts";
import { type Cidr, containsCidr, formatCidr, formatIp, lastAddress, overlaps, parseCidr } from "./cidr.ts";
import { BlockPool } from "./pool.ts";
import { BlockAllocator } from "./allocator.ts";

export interface BlockPlan {
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

/** A user-defined route the VNet's route table needs: the block, via the node that holds it. */
export interface RouteEntry {
  name: string;
  addressPrefix: string;
  nextHopType: "VirtualAppliance";
  nextHopIpAddress: string;
}

export interface Plan {
  nodes: NodePlan[];
  routes: RouteEntry[];
  freeBlocks: number;
  warnings: Finding[];
}

export interface NodeInput {
  name: string;
  ip: string;
}

export const ROUTE_NAME_PREFIX = "aks-ipvlan-";

export function routeName(clusterName: string, block: string): string {
  return `${ROUTE_NAME_PREFIX}${clusterName}-${block.replace(/[./]/g, "-")}`;
}

/**
 * Plans every node of the spec plus `extraNodes` (nodes the cluster has that the spec does not list; a
 * name the spec already lists is ignored). `held` maps node names to blocks they already hold (e.g. node
 * annotations): those blocks are kept, and a held block of a node that is not planned stays taken, so a
 * block is never handed to a second node while the first may still use it.
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
  const allocator = new BlockAllocator(pool);
  const errors: Finding[] = capacityErrors(spec, pool.capacity());
  const blocksOf = new Map<string, string[]>(nodes.map((node) => [node.name, []]));

  const claim = (block: string, owner: string, path: string, fix: string) => {
    if (allocator.ownerOf(block) === owner) return;
    const problem = allocator.claim(block, owner);
    if (problem) errors.push({ path, value: block, message: problem, fix });
    else blocksOf.get(owner)?.push(block);
  };
  // Held blocks first: a pin can never take a block away from the node using it.
  for (const [name, blocks] of options.held ?? []) {
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
  nodes.forEach((node, index) => {
    const blocks = blocksOf.get(node.name)!;
    if (blocks.length > 0) return;
    const block = allocator.allocate(node.name);
    if (!block) {
      errors.push({
        path: index < spec.nodes.length ? `nodes[${index}]` : `node ${node.name}`,
        value: node.name,
        message: `the pod pool is exhausted: no free /${spec.blockSize} block for this node`,
        fix: "add a CIDR to podPool, or use a longer blockSize",
      });
      return;
    }
    blocks.push(formatCidr(block));
  });
  if (errors.length > 0) throw new UserError(errors);

  const planned = nodes.map((node) => nodePlan(node, blocksOf.get(node.name)!, pool));
  const routes = planned.flatMap((node) => node.blocks.map((block) => routeFor(spec, block.cidr, node.ip)));
  return {
    nodes: planned,
    routes,
    freeBlocks: allocator.freeCount(),
    warnings: [...planWarnings(spec, pool.capacity()), ...routeTableWarnings(routes.length)],
  };
}

function uniqueByName(nodes: readonly NodeInput[]): NodeInput[] {
  const seen = new Set<string>();
  return nodes.filter((node) => !seen.has(node.name) && Boolean(seen.add(node.name)));
}

export function routeFor(spec: ClusterSpec, block: string, nodeIp: string): RouteEntry {
  return {
    name: routeName(spec.name, block),
    addressPrefix: block,
    nextHopType: "VirtualAppliance",
    nextHopIpAddress: nodeIp,
  };
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

/**
 * Validates the pool against the node subnet and builds it; every problem is reported at once.
 * `extraNodes`: nodes the spec does not list, whose IPs must not be handed out either.
 */
export function checkedPool(spec: ClusterSpec, extraNodes: readonly NodeInput[] = []): BlockPool {
  const nodeSubnet = parseCidr(spec.nodeSubnet);
  const pools = spec.podPool.map(parseCidr);
  const errors: Finding[] = [];
  pools.forEach((pool, index) => {
    const path = `podPool[${index}]`;
    const value = spec.podPool[index];
    if (pool.prefix > spec.blockSize) {
      errors.push({
        path,
        value,
        message: `smaller than one /${spec.blockSize} block`,
        fix: `use a pool of at least /${spec.blockSize}, or a longer blockSize`,
      });
    }
    if (overlaps(pool, nodeSubnet) && !containsCidr(nodeSubnet, pool)) {
      errors.push({
        path,
        value,
        message: `overlaps nodeSubnet ${spec.nodeSubnet} without being inside it`,
        fix: "use a pool wholly inside the node subnet, or wholly outside it",
      });
    }
    pools.slice(0, index).forEach((other, otherIndex) => {
      if (overlaps(pool, other)) {
        errors.push({
          path,
          value,
          message: `overlaps podPool[${otherIndex}] ${spec.podPool[otherIndex]}`,
          fix: "list each address range once",
        });
      }
    });
  });
  if (errors.length > 0) throw new UserError(errors);
  return new BlockPool(spec, extraNodes);
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
