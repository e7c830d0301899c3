import { describe, expect, it } from "vitest";
import { assignBlocks, type AssignInput } from "./assign.ts";
import { validateSpec } from "../spec/load.ts";

// Outside the node subnet the pool's first and last block hold its network and broadcast addresses,
// so the first block handed out is 10.241.0.16/28.
const spec = validateSpec({
  name: "aks",
  nodeSubnet: "10.224.0.0/16",
  podPool: ["10.241.0.0/24"],
  maxBlocksPerNode: 2,
  nodes: [{ name: "pinned", ip: "10.224.0.9", block: "10.241.0.224/28" }],
});
const input = (partial: Partial<AssignInput>): AssignInput => ({
  ledger: new Map(),
  nodes: [],
  due: new Set(),
  ...partial,
});

describe("assignBlocks", () => {
  it("gives new nodes the lowest free blocks, claims them, and annotates", () => {
    const result = assignBlocks(
      spec,
      input({
        nodes: [
          { name: "b", blocks: [] },
          { name: "a", blocks: [] },
        ],
      }),
    );
    expect([...result.claims]).toEqual([
      ["10.241.0.16/28", "a"],
      ["10.241.0.32/28", "b"],
    ]);
    expect(result.annotations).toEqual([
      { node: "a", blocks: ["10.241.0.16/28"] },
      { node: "b", blocks: ["10.241.0.32/28"] },
    ]);
  });

  it("changes nothing when ledger and annotations agree", () => {
    const result = assignBlocks(
      spec,
      input({
        ledger: new Map([["10.241.0.16/28", "a"]]),
        nodes: [{ name: "a", blocks: ["10.241.0.16/28"] }],
      }),
    );
    expect(result.claims.size + result.releases.length + result.annotations.length).toBe(0);
  });

  it("never gives a block recorded for another node, even when that node's annotation is not written yet", () => {
    const result = assignBlocks(
      spec,
      input({ ledger: new Map([["10.241.0.16/28", "other"]]), nodes: [{ name: "a", blocks: [] }] }),
    );
    expect(result.annotations).toEqual([{ node: "a", blocks: ["10.241.0.32/28"] }]);
  });

  it("gives the pinned block to its node and refuses it to an annotation that names it", () => {
    const result = assignBlocks(
      spec,
      input({
        nodes: [
          { name: "pinned", blocks: [] },
          { name: "x", blocks: ["10.241.0.224/28"] },
        ],
      }),
    );
    expect(result.blocksOf.get("pinned")).toEqual(["10.241.0.224/28"]);
    expect(result.blocksOf.get("x")).toEqual(["10.241.0.16/28"]);
    expect(result.warnings).toContainEqual(expect.objectContaining({ node: "x", block: "10.241.0.224/28" }));
    expect(result.claims.has("10.241.0.224/28")).toBe(false);
  });

  it("adopts annotated blocks the ledger does not know", () => {
    const result = assignBlocks(spec, input({ nodes: [{ name: "a", blocks: ["10.241.0.48/28"] }] }));
    expect([...result.claims]).toEqual([["10.241.0.48/28", "a"]]);
    expect(result.annotations).toEqual([]);
  });

  it("keeps a gone node's block until it is due, then releases it; a returning node gets it back", () => {
    const ledger = new Map([["10.241.0.16/28", "gone"]]);
    const waiting = assignBlocks(spec, input({ ledger, nodes: [{ name: "new", blocks: [] }] }));
    expect(waiting.unused).toEqual(["10.241.0.16/28"]);
    expect(waiting.releases).toEqual([]);
    expect(waiting.blocksOf.get("new")).toEqual(["10.241.0.32/28"]);

    const back = assignBlocks(
      spec,
      input({ ledger, nodes: [{ name: "gone", blocks: [] }], due: new Set(["10.241.0.16/28"]) }),
    );
    expect(back.blocksOf.get("gone")).toEqual(["10.241.0.16/28"]);
    expect(back.releases).toEqual([]);

    const released = assignBlocks(spec, input({ ledger, nodes: [], due: new Set(["10.241.0.16/28"]) }));
    expect(released.releases).toEqual(["10.241.0.16/28"]);
  });

  it("adds a block when the node's pods fill its blocks, up to maxBlocksPerNode", () => {
    const ledger = new Map([["10.241.0.16/28", "a"]]);
    const below = assignBlocks(
      spec,
      input({ ledger, nodes: [{ name: "a", blocks: ["10.241.0.16/28"], pods: 15 }] }),
    );
    expect(below.annotations).toEqual([]);
    const full = assignBlocks(
      spec,
      input({ ledger, nodes: [{ name: "a", blocks: ["10.241.0.16/28"], pods: 16 }] }),
    );
    expect(full.annotations).toEqual([{ node: "a", blocks: ["10.241.0.16/28", "10.241.0.32/28"] }]);
    const ledger2 = new Map([...ledger, ["10.241.0.32/28", "a"]]);
    const max = assignBlocks(
      spec,
      input({
        ledger: ledger2,
        nodes: [{ name: "a", blocks: ["10.241.0.16/28", "10.241.0.32/28"], pods: 40 }],
      }),
    );
    expect(max.annotations).toEqual([]);
  });

  it("reports nodes left without a block when the pool is exhausted", () => {
    const small = validateSpec({ name: "aks", nodeSubnet: "10.224.0.0/16", podPool: ["10.241.0.0/26"] });
    const result = assignBlocks(
      small,
      input({ nodes: ["a", "b", "c"].map((name) => ({ name, blocks: [] })) }),
    );
    expect(result.exhausted).toEqual(["c"]);
    expect(result.freeBlocks).toBe(0);
  });

  describe("with the pod pool inside the node subnet (the seed's layout)", () => {
    const seed = validateSpec({ name: "aks", nodeSubnet: "10.224.0.0/16" });

    it("never hands out a block holding a node's IP", () => {
      const result = assignBlocks(seed, input({ nodes: [{ name: "a", ip: "10.224.0.20", blocks: [] }] }));
      expect(result.blocksOf.get("a")).toEqual(["10.224.0.32/28"]);
    });

    it("keeps a recorded block in which a new node's IP appeared, and never hands it out again", () => {
      const ledger = new Map([["10.224.0.32/28", "a"]]);
      const result = assignBlocks(
        seed,
        input({
          ledger,
          nodes: [
            { name: "a", ip: "10.224.0.20", blocks: ["10.224.0.32/28"] },
            { name: "b", ip: "10.224.0.40", blocks: [] },
          ],
        }),
      );
      expect(result.blocksOf.get("a")).toEqual(["10.224.0.32/28"]);
      expect(result.releases).toEqual([]);
      expect(result.blocksOf.get("b")).toEqual(["10.224.0.48/28"]);
      expect(result.warnings).toContainEqual(expect.objectContaining({ node: "a", block: "10.224.0.32/28" }));
    });
  });
});
