import { describe, expect, it } from "vitest";
import { validateSpec } from "../spec/load.ts";
import { formatCidr } from "../net/cidr.ts";
import { BlockPool } from "./pool.ts";
import { BlockAllocator } from "./allocator.ts";

// 10.224.0.0/26 in blocks of /28: .0 (Azure-reserved .0-.3), .16, .32, .48 (Azure-reserved last address).
const spec = validateSpec({ nodeSubnet: "10.224.0.0/26" });

function allocator() {
  return new BlockAllocator(new BlockPool(spec));
}

describe("BlockAllocator", () => {
  it("hands out the lowest free block and skips forbidden ones", () => {
    const blocks = allocator();
    expect(blocks.freeCount()).toBe(2);
    expect(formatCidr(blocks.allocate("a")!)).toBe("10.224.0.16/28");
    expect(formatCidr(blocks.allocate("b")!)).toBe("10.224.0.32/28");
    expect(blocks.allocate("c")).toBeUndefined();
    expect(blocks.freeCount()).toBe(0);
  });

  it("gives a released block to the next node", () => {
    const blocks = allocator();
    blocks.allocate("a");
    blocks.allocate("b");
    blocks.release("10.224.0.16/28");
    expect(blocks.ownerOf("10.224.0.16/28")).toBeUndefined();
    expect(formatCidr(blocks.allocate("c")!)).toBe("10.224.0.16/28");
    expect(blocks.held()).toEqual(
      new Map([
        ["c", ["10.224.0.16/28"]],
        ["b", ["10.224.0.32/28"]],
      ]),
    );
  });

  it("explains why a claim is refused, and allows a holder to claim its own block again", () => {
    const blocks = allocator();
    expect(blocks.claim("10.224.0.32/28", "a")).toBeUndefined();
    expect(blocks.claim("10.224.0.32/28", "a")).toBeUndefined();
    expect(blocks.claim("10.224.0.32/28", "b")).toBe("10.224.0.32/28 is already held by a");
    expect(blocks.claim("10.224.0.0/28", "b")).toMatch(/Azure-reserved address/);
    expect(blocks.claim("10.224.0.32/27", "b")).toMatch(/not a \/28 block of the pod pool/);
    expect(blocks.claim("10.225.0.0/28", "b")).toMatch(/not a \/28 block of the pod pool/);
    expect(formatCidr(blocks.allocate("b")!)).toBe("10.224.0.16/28");
  });
});
