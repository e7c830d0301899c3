// The pod pool as a numbered sequence of candidate node blocks.
// Block i of the pool is found arithmetically, so a pool of millions of blocks costs nothing to hold;
// blocks that contain an address pods must never get (Azure-reserved, a node IP, `reserved`) are
// forbidden as a whole, which keeps every block a single host-local range.
import type { ClusterSpec } from "../spec/schema.ts";
import { UserError, type Finding } from "../errors/user-error.ts";
import {
  type Cidr,
  containsCidr,
  containsIp,
  lastAddress,
  overlaps,
  parseCidr,
  parseCidrOrIp,
  parseIp,
  size,
} from "../net/cidr.ts";

export interface PoolSegment {
  cidr: Cidr;
  /** Index of this segment's first block in the whole pool. */
  firstIndex: number;
  blockCount: number;
  /** The `subnet` host-local is given for ranges in this segment. */
  rangeSubnet: Cidr;
  /** The gateway host-local is given: the first host of the range subnet (Azure's gateway in the node subnet). */
  gateway: number;
}

export class BlockPool {
  readonly blockPrefix: number;
  readonly segments: PoolSegment[];
  readonly blockCount: number;
  /** Block index → why pods must not get it. */
  private readonly forbidden = new Map<number, string>();

  /** `nodes` adds nodes the spec does not list (e.g. joined later): their IPs are forbidden too. */
  constructor(spec: ClusterSpec, nodes: readonly { name: string; ip: string }[] = []) {
    this.blockPrefix = spec.blockSize;
    const nodeSubnet = parseCidr(spec.nodeSubnet);
    let firstIndex = 0;
    this.segments = spec.podPool.map((text) => {
      const cidr = parseCidr(text);
      const inside = containsCidr(nodeSubnet, cidr);
      const rangeSubnet = inside ? nodeSubnet : cidr;
      const blockCount = cidr.prefix > this.blockPrefix ? 0 : 2 ** (this.blockPrefix - cidr.prefix);
      const segment = { cidr, firstIndex, blockCount, rangeSubnet, gateway: rangeSubnet.base + 1 };
      firstIndex += blockCount;
      return segment;
    });
    this.blockCount = firstIndex;

    const forbid = (address: number, reason: string) =>
      this.forbidRange({ base: address, prefix: 32 }, reason);
    for (const subnet of new Set(this.segments.map((s) => s.rangeSubnet))) {
      const isNodeSubnet = subnet === nodeSubnet;
      const reserved = isNodeSubnet ? [0, 1, 2, 3] : [0, 1];
      for (const offset of reserved) {
        forbid(subnet.base + offset, isNodeSubnet ? "Azure-reserved address" : "network or gateway address");
      }
      forbid(lastAddress(subnet), isNodeSubnet ? "Azure-reserved address" : "broadcast address");
    }
    for (const node of [...spec.nodes, ...nodes]) forbid(parseIp(node.ip), `IP of node ${node.name}`);
    for (const text of spec.reserved) this.forbidRange(parseCidrOrIp(text), `reserved ${text}`);
  }

  private forbidRange(range: Cidr, reason: string): void {
    for (const segment of this.segments) {
      if (segment.blockCount === 0 || !overlaps(segment.cidr, range)) continue;
      const from = Math.max(range.base, segment.cidr.base);
      const to = Math.min(lastAddress(range), lastAddress(segment.cidr));
      const blockSize = 2 ** (32 - this.blockPrefix);
      for (
        let address = from - ((from - segment.cidr.base) % blockSize);
        address <= to;
        address += blockSize
      ) {
        const index = this.indexOfAddress(address)!;
        if (!this.forbidden.has(index)) this.forbidden.set(index, reason);
      }
    }
  }

  /** The pool index of the block holding `address`, or undefined when the address is outside the pool. */
  indexOfAddress(address: number): number | undefined {
    for (const segment of this.segments) {
      if (segment.blockCount > 0 && containsIp(segment.cidr, address)) {
        return segment.firstIndex + Math.floor((address - segment.cidr.base) / 2 ** (32 - this.blockPrefix));
      }
    }
    return undefined;
  }

  /** The pool index of exactly this block, or undefined when it is not one of the pool's blocks. */
  indexOfBlock(block: Cidr): number | undefined {
    if (block.prefix !== this.blockPrefix) return undefined;
    return this.indexOfAddress(block.base);
  }

  block(index: number): Cidr {
    const segment = this.segmentOf(index);
    return {
      base: segment.cidr.base + (index - segment.firstIndex) * 2 ** (32 - this.blockPrefix),
      prefix: this.blockPrefix,
    };
  }

  segmentOf(index: number): PoolSegment {
    const segment = this.segments.find((s) => index >= s.firstIndex && index < s.firstIndex + s.blockCount);
    if (!segment) throw new RangeError(`block index ${index} is outside the pool`);
    return segment;
  }

  /** Why a block may not be handed out, or undefined when it may. */
  forbiddenReason(index: number): string | undefined {
    return this.forbidden.get(index);
  }

  get forbiddenCount(): number {
    return this.forbidden.size;
  }

  isForbidden(index: number): boolean {
    return this.forbidden.has(index);
  }

  /** Addresses a block gives pods: all of them, since blocks holding a forbidden address are never used. */
  capacity(): number {
    return size({ base: 0, prefix: this.blockPrefix });
  }
}

/**
 * Validates the pool against the node subnet and builds it; every problem is reported at once.
 * `extraNodes`: nodes the spec does not list, whose IPs must not be handed out either.
 */
export function checkedPool(
  spec: ClusterSpec,
  extraNodes: readonly { name: string; ip: string }[] = [],
): BlockPool {
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
