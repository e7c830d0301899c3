import { describe, expect, it } from "vitest";
import { aggregateCidrs, subtractCidrs } from "./cidr-set.ts";
import { formatCidr, parseCidr } from "./cidr.ts";

describe("subtractCidrs", () => {
  it("cuts each except out exactly", () => {
    const cut = (outer: string, excepts: string[]) =>
      subtractCidrs(parseCidr(outer), excepts.map(parseCidr)).map(formatCidr);
    expect(cut("10.0.0.0/30", ["10.0.0.1/32"])).toEqual(["10.0.0.0/32", "10.0.0.2/31"]);
    expect(cut("10.0.0.0/24", ["10.0.0.0/24"])).toEqual([]);
    expect(cut("10.0.0.0/24", ["192.168.0.0/16"])).toEqual(["10.0.0.0/24"]);
    expect(cut("10.0.0.0/24", ["10.0.0.0/8"])).toEqual([]);
  });
});

describe("aggregateCidrs", () => {
  it("joins siblings and drops nested blocks, never widening", () => {
    const join = (texts: string[]) => aggregateCidrs(texts.map(parseCidr)).map(formatCidr);
    expect(join(["10.0.0.4/32", "10.0.0.5/32", "10.0.0.6/31"])).toEqual(["10.0.0.4/30"]);
    expect(join(["10.0.0.5/32", "10.0.0.6/32"])).toEqual(["10.0.0.5/32", "10.0.0.6/32"]);
    expect(join(["10.0.0.0/8", "10.1.2.3/32", "11.0.0.0/8"])).toEqual(["10.0.0.0/7"]);
    expect(join(["0.0.0.0/1", "128.0.0.0/1"])).toEqual(["0.0.0.0/0"]);
  });
});
