// Hands out the lowest free block of the pool; the planner and the controller both allocate through it.
import { type Cidr, formatCidr, parseCidr } from "../net/cidr.ts";
import type { BlockPool } from "./pool.ts";

export class BlockAllocator {
  private readonly owners = new Map<number, string>();
  /** Every block below this index is taken or forbidden; only a release moves it back. */
  private cursor = 0;

  private readonly pool: BlockPool;

  constructor(pool: BlockPool) {
    this.pool = pool;
  }

  /** Records that `owner` holds `block`; returns the reason when it cannot. */
  claim(block: string, owner: string): string | undefined {
    const index = this.pool.indexOfBlock(parseCidr(block));
    if (index === undefined) {
      return `${block} is not a /${this.pool.blockPrefix} block of the pod pool`;
    }
    const forbidden = this.pool.forbiddenReason(index);
    if (forbidden) return `${block} contains an address pods must not get (${forbidden})`;
    const holder = this.owners.get(index);
    if (holder !== undefined && holder !== owner) return `${block} is already held by ${holder}`;
    this.owners.set(index, owner);
    // Claims usually come in ascending order (a plan, the annotations): moving the cursor here keeps
    // the next allocate from scanning every claimed block again.
    if (index === this.cursor) this.skipTaken();
    return undefined;
  }

  allocate(owner: string): Cidr | undefined {
    this.skipTaken();
    if (this.cursor >= this.pool.blockCount) return undefined;
    const index = this.cursor++;
    this.owners.set(index, owner);
    return this.pool.block(index);
  }

  private skipTaken(): void {
    while (
      this.cursor < this.pool.blockCount &&
      (this.owners.has(this.cursor) || this.pool.isForbidden(this.cursor))
    ) {
      this.cursor++;
    }
  }

  release(block: string): void {
    const index = this.pool.indexOfBlock(parseCidr(block));
    if (index === undefined || !this.owners.delete(index)) return;
    this.cursor = Math.min(this.cursor, index);
  }

  ownerOf(block: string): string | undefined {
    const index = this.pool.indexOfBlock(parseCidr(block));
    return index === undefined ? undefined : this.owners.get(index);
  }

  /** Blocks still free (counted, not listed, so it stays cheap for large pools). */
  freeCount(): number {
    return this.pool.blockCount - this.pool.forbiddenCount - this.owners.size;
  }

  held(): Map<string, string[]> {
    const byOwner = new Map<string, string[]>();
    for (const [index, owner] of this.owners) {
      const list = byOwner.get(owner) ?? [];
      list.push(formatCidr(this.pool.block(index)));
      byOwner.set(owner, list);
    }
    return byOwner;
  }
}
