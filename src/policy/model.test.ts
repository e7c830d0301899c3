import { describe, expect, it } from "vitest";
import { parseNetworkPolicy } from "./model.ts";
import { UserError } from "../errors/user-error.ts";

describe("parseNetworkPolicy", () => {
  it("names the field of a bad policy", () => {
    const bad = {
      metadata: { name: "x", namespace: "prod" },
      spec: { podSelector: {}, ingress: [{ ports: [{ port: "http", endPort: 90 }] }] },
    };
    expect(() => parseNetworkPolicy(bad)).toThrow(UserError);
    expect(() => parseNetworkPolicy(bad)).toThrow(/spec\.ingress\[0\]\.ports\[0\]/);
  });

  it("rejects a peer mixing ipBlock and selectors", () => {
    const mixed = {
      metadata: { name: "x", namespace: "prod" },
      spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }] },
    };
    expect(() => parseNetworkPolicy(mixed)).toThrow(/spec\.egress\[0\]\.to\[0\]/);
  });
});
