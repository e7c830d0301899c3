import { describe, expect, it } from "vitest";
import { formatBlocksAnnotation, parseBlocksAnnotation } from "./annotation.ts";

describe("the blocks annotation", () => {
  it("round-trips a node's blocks, tolerating spaces and empty entries", () => {
    expect(parseBlocksAnnotation(formatBlocksAnnotation(["10.224.0.16/28", "10.224.0.64/28"]))).toEqual([
      "10.224.0.16/28",
      "10.224.0.64/28",
    ]);
    expect(parseBlocksAnnotation(" 10.224.0.16/28 ,, ")).toEqual(["10.224.0.16/28"]);
    expect(parseBlocksAnnotation(undefined)).toEqual([]);
  });

  it("refuses an entry that is not a block", () => {
    expect(() => parseBlocksAnnotation("10.224.0.17/28")).toThrow(/host bits/);
  });
});
