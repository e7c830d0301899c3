// The verdict on a node after a kill (agents-protocol.ts), on states written out by hand: the suite on
// the real kernel trusts it to call every half-done node "between".
import { describe, expect, it } from "vitest";
import { killVerdict, type NodeState } from "./agents-protocol.ts";

function state(values: Partial<NodeState>): NodeState {
  return {
    hostDevice: "before",
    sysctls: "before",
    filterRules: "before",
    natRules: "before",
    conflist: "before",
    jumps: 0,
    detail: "",
    ...values,
  };
}

const RULES = { filterRules: "desired", natRules: "desired" } as const;

describe("killVerdict", () => {
  it("names the untouched node, each prefix of the steps, and the finished node", () => {
    expect(killVerdict(state({}))).toBe("as before");
    expect(killVerdict(state({ hostDevice: "desired" }))).toBe("after hostDevice");
    expect(killVerdict(state({ hostDevice: "desired", sysctls: "desired" }))).toBe("after sysctls");
    expect(killVerdict(state({ hostDevice: "desired", sysctls: "desired", filterRules: "desired" }))).toBe(
      "after filterRules",
    );
    expect(killVerdict(state({ ...RULES, hostDevice: "desired", sysctls: "desired" }))).toBe(
      "after natRules",
    );
    expect(
      killVerdict(state({ ...RULES, hostDevice: "desired", sysctls: "desired", conflist: "desired" })),
    ).toBe("as desired");
  });

  it("allows the host device half made (separate netlink requests) while nothing after it is applied", () => {
    expect(killVerdict(state({ hostDevice: "neither" }))).toBe("in hostDevice");
    expect(killVerdict(state({ hostDevice: "neither", sysctls: "desired" }))).toBe("between");
  });

  it("calls a step applied out of order, or any other component half done, between", () => {
    expect(killVerdict(state({ conflist: "desired" }))).toBe("between");
    expect(killVerdict(state({ ...RULES, hostDevice: "desired" }))).toBe("between");
    expect(killVerdict(state({ hostDevice: "desired", sysctls: "desired", filterRules: "neither" }))).toBe(
      "between",
    );
    expect(
      killVerdict(state({ ...RULES, hostDevice: "desired", sysctls: "desired", conflist: "neither" })),
    ).toBe("between");
  });

  it("calls the masquerade applied before the guard between (the unsafe order of the tables)", () => {
    expect(killVerdict(state({ hostDevice: "desired", sysctls: "desired", natRules: "desired" }))).toBe(
      "between",
    );
  });
});
