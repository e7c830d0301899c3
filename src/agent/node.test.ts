import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseSpec } from "../spec/load.ts";
import { UserError } from "../errors/user-error.ts";
import { resolveNode } from "./node.ts";

const seed = parseSpec(readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8"));

describe("resolveNode", () => {
  it("without Kubernetes, takes the node's block from the spec's plan", () => {
    const result = resolveNode(seed, "node2");
    expect("node" in result && result.node.blocks.map((b) => b.cidr)).toEqual(["10.224.0.32/28"]);
  });

  it("without Kubernetes, refuses a node the spec does not list", () => {
    expect(() => resolveNode(seed, "node9")).toThrow(UserError);
  });

  it("in a cluster, takes an unlisted node's blocks from its annotation and its IP from InternalIP", () => {
    const result = resolveNode(seed, "node9", {
      internalIp: "10.224.0.9",
      blocks: ["10.224.0.64/28", "10.224.0.80/28"],
    });
    expect(result).toMatchObject({ node: { name: "node9", ip: "10.224.0.9", capacity: 32 } });
  });

  it("in a cluster, a pinned block wins over the annotation", () => {
    const pinned = parseSpec(
      "nodeSubnet: 10.224.0.0/16\nnodes:\n  - {name: a, ip: 10.224.0.4, block: 10.224.1.0/28}\n",
    );
    const result = resolveNode(pinned, "a", { internalIp: "10.224.0.4", blocks: ["10.224.0.16/28"] });
    expect("node" in result && result.node.blocks.map((b) => b.cidr)).toEqual(["10.224.1.0/28"]);
  });

  it("waits while the controller has not assigned a block", () => {
    expect(resolveNode(seed, "node9", { internalIp: "10.224.0.9", blocks: [] })).toEqual({
      waiting: "node node9 has no block yet (the controller assigns one)",
    });
  });

  it("rejects an annotation block that is not a block of the pod pool", () => {
    expect(() =>
      resolveNode(seed, "node9", { internalIp: "10.224.0.9", blocks: ["10.224.0.64/27"] }),
    ).toThrow(/not a \/28 block of the pod pool/);
  });
});
