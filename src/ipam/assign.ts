// One allocation pass, the only one: from the ledger and the nodes the API server shows, which blocks to claim,
// which to release and which node annotations to write. Pure; the controller runs it whenever
// something changed and applies the result (ledger first, then annotations).
//
// Rules, in order of precedence:
// 1. a block pinned in the spec belongs to its node, whatever the ledger or annotations say;
// 2. the ledger: a block recorded for a node is that node's;
// 3. a node keeps the blocks of its annotation that nobody else holds (adopted into the ledger);
// 4. a node with no block gets back the blocks the ledger still records for it (a node object that
//    was deleted and re-registered within the grace period), otherwise the lowest free block; nodes
//    are served in node-name order (UTF-16 code units, not the locale's collation), so the result
//    depends on the set of nodes, never on the order the watch or the spec lists them, and `plan`
//    (which runs this same pass) can predict it;
// 5. a node whose pods fill its blocks gets one more, up to maxBlocksPerNode. Blocks are never taken
//    from a live node: their addresses may be in use.
// A ledger block no node uses is released only once it has stayed unused for the grace period
// (`due`): a node that comes back finds it, and a racing writer's claim is never pulled from under it.
import type { ClusterSpec } from "../spec/schema.ts";
import { BlockAllocator } from "./allocator.ts";
import { checkedPool } from "./pool.ts";
import { formatCidr } from "../net/cidr.ts";

export interface NodeView {
  name: string;
  /** The node's InternalIP: a block holding it is never handed out (pools inside the node subnet). */
  ip?: string;
  /** Blocks of the node's annotation. */
  blocks: readonly string[];
  /** Pods on the node that need an address (counted only when maxBlocksPerNode > 1). */
  pods?: number;
}

export interface AssignInput {
  /** Block → node, as recorded. */
  ledger: ReadonlyMap<string, string>;
  nodes: readonly NodeView[];
  /** Ledger blocks unused for at least the grace period: release them if still unused. */
  due: ReadonlySet<string>;
}

interface AssignWarning {
  node: string;
  block: string;
  message: string;
}

export interface Assignment {
  /** New ledger entries, block → node. */
  claims: Map<string, string>;
  /** Ledger entries to erase. */
  releases: string[];
  /** Nodes whose annotation must change, with their full new block list. */
  annotations: Array<{ node: string; blocks: string[] }>;
  /** Every node's blocks after this pass. */
  blocksOf: Map<string, string[]>;
  /** Ledger blocks no node uses now (candidates for release once due). */
  unused: string[];
  /** Nodes left without a block: the pod pool is exhausted. */
  exhausted: string[];
  warnings: AssignWarning[];
  freeBlocks: number;
}

export function assignBlocks(spec: ClusterSpec, input: AssignInput): Assignment {
  const pool = checkedPool(
    spec,
    input.nodes.flatMap((node) => (node.ip ? [{ name: node.name, ip: node.ip }] : [])),
  );
  const allocator = new BlockAllocator(pool);
  const blockCapacity = pool.capacity();
  const result: Assignment = {
    claims: new Map(),
    releases: [],
    annotations: [],
    blocksOf: new Map(),
    unused: [],
    exhausted: [],
    warnings: [],
    freeBlocks: 0,
  };
  const pinned = new Map<string, string>();
  for (const node of spec.nodes) {
    if (node.block && !allocator.claim(node.block, node.name)) pinned.set(node.name, node.block);
  }

  const recordedFor = new Map<string, string[]>();
  const ledgerOwner = new Map<string, string>();
  for (const [block, owner] of input.ledger) {
    const problem = allocator.claim(block, owner);
    if (problem && allocator.ownerOf(block) !== undefined) {
      result.warnings.push({ node: owner, block, message: `ledger entry dropped: ${problem}` });
      result.releases.push(block);
      continue;
    }
    // A recorded block that has become forbidden (a new node's IP inside it, a pool edited in the
    // spec) stays with its node: its addresses may be in use. It is never handed out again.
    if (problem) result.warnings.push({ node: owner, block, message: `kept, but ${problem}` });
    ledgerOwner.set(block, owner);
    recordedFor.set(owner, [...(recordedFor.get(owner) ?? []), block]);
  }

  const claim = (block: string, node: string) => {
    result.claims.set(block, node);
    ledgerOwner.set(block, node);
    recordedFor.set(node, [...(recordedFor.get(node) ?? []), block]);
  };
  const nodes = [...input.nodes].sort(byName);
  for (const node of nodes) {
    const blocks: string[] = [];
    const pin = pinned.get(node.name);
    if (pin) blocks.push(pin);
    for (const block of node.blocks) {
      if (blocks.includes(block)) continue;
      const owner = ledgerOwner.get(block) ?? allocator.ownerOf(block);
      if (owner === node.name) {
        blocks.push(block);
      } else if (owner !== undefined) {
        result.warnings.push({
          node: node.name,
          block,
          message: `annotation names a block held by ${owner}`,
        });
      } else {
        const problem = allocator.claim(block, node.name);
        if (problem) result.warnings.push({ node: node.name, block, message: problem });
        else {
          claim(block, node.name);
          blocks.push(block);
        }
      }
    }
    const spare = () => (recordedFor.get(node.name) ?? []).filter((block) => !blocks.includes(block));
    const addOne = (): boolean => {
      const recorded = spare()[0];
      if (recorded) {
        blocks.push(recorded);
        return true;
      }
      const fresh = allocator.allocate(node.name);
      if (!fresh) return false;
      claim(formatCidr(fresh), node.name);
      blocks.push(formatCidr(fresh));
      return true;
    };
    if (blocks.length === 0) {
      blocks.push(...spare().slice(0, spec.maxBlocksPerNode));
      if (blocks.length === 0 && !addOne()) result.exhausted.push(node.name);
    }
    if (
      node.pods !== undefined &&
      blocks.length > 0 &&
      blocks.length < spec.maxBlocksPerNode &&
      node.pods >= blocks.length * blockCapacity &&
      !addOne()
    ) {
      result.exhausted.push(node.name);
    }
    result.blocksOf.set(node.name, blocks);
    if (blocks.join(",") !== node.blocks.join(",")) result.annotations.push({ node: node.name, blocks });
  }

  for (const [owner, blocks] of recordedFor) {
    const used = result.blocksOf.get(owner) ?? [];
    for (const block of blocks) {
      if (used.includes(block)) continue;
      if (input.due.has(block) && !result.claims.has(block)) {
        result.releases.push(block);
        allocator.release(block);
      } else {
        result.unused.push(block);
      }
    }
  }
  result.freeBlocks = allocator.freeCount();
  return result;
}

/** Node-name order by code units: the same on every machine, unlike localeCompare. */
function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
