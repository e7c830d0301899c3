import { describe, expect, it } from "vitest";
import { validateSpec } from "../spec/load.ts";
import { UserError } from "../errors/user-error.ts";
import { withNodes } from "./generate.ts";

const spec = validateSpec({
  nodeSubnet: "10.240.0.0/16",
  blockSize: 27,
  nodes: [{ name: "a", ip: "10.240.0.9" }],
});

describe("withNodes", () => {
  it("replaces the nodes with node1..n from the subnet's .4 upwards", () => {
    expect(withNodes(spec, 3).nodes).toEqual([
      { name: "node1", ip: "10.240.0.4" },
      { name: "node2", ip: "10.240.0.5" },
      { name: "node3", ip: "10.240.0.6" },
    ]);
  });

  it("refuses counts the testbed cannot run", () => {
    for (const count of [0, 1.5, 33]) expect(() => withNodes(spec, count)).toThrow(UserError);
    const tiny = validateSpec({ nodeSubnet: "10.240.0.0/29", blockSize: 30, podPool: ["10.241.0.0/24"] });
    expect(() => withNodes(tiny, 4)).toThrow(UserError);
  });
});
