import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.ts";
import { plan } from "./planner.ts";

describe("plan on the seed's cluster", () => {
  it("gives node1..3 the seed's /28 blocks", () => {
    const spec = parseSpec(
      "nodeSubnet: 10.224.0.0/16\nnodes:\n- {name: node1, ip: 10.224.0.4}\n- {name: node2, ip: 10.224.0.5}\n- {name: node3, ip: 10.224.0.6}\n",
    );
    expect(plan(spec).nodes.map((node) => [node.name, node.blocks.map((b) => b.cidr)])).toEqual([
      ["node1", ["10.224.0.16/28"]],
      ["node2", ["10.224.0.32/28"]],
      ["node3", ["10.224.0.48/28"]],
    ]);
  });
});
