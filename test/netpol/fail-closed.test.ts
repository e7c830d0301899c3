// Fail-closed on the node side: ingress from other nodes to an address of this node's pod blocks that
// belongs to no computed pod is denied in the node's INPUT (the pod's own namespace never sees it).
import { describe, expect, it } from "vitest";
import { compileNodeRules } from "../../src/policy/node-rules.ts";
import type { PolicyPod, PolicyWorld } from "../../src/policy/model.ts";
import { applyRestore, emptyTable, traverse } from "./iptables-sim.ts";

const pod = (name: string, ip: string, labels: Record<string, string>): PolicyPod => ({
  namespace: "shop",
  name,
  ip,
  node: "n1",
  labels,
  ports: [],
});
const open = pod("open", "10.244.0.4", { app: "open" });
const guarded = pod("guarded", "10.244.0.5", { app: "guarded" });
const world: PolicyWorld = {
  pods: [open, guarded],
  namespaces: [{ name: "shop", labels: {} }],
  policies: [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "guard", namespace: "shop" },
      spec: {
        podSelector: { matchLabels: { app: "guarded" } },
        ingress: [{ from: [{ ipBlock: { cidr: "10.244.1.0/24" } }] }],
      },
    },
  ],
};

function nodeInput(failClosedCIDRs?: string[]) {
  const rules = compileNodeRules(world, [open, guarded], {
    nodeIP: "10.224.0.4",
    ...(failClosedCIDRs ? { failClosedCIDRs } : {}),
  });
  const table = emptyTable();
  applyRestore(table, rules.chains);
  applyRestore(
    table,
    ["*filter", ...rules.jumps.map((jump) => `-I ${jump.chain} 1 ${jump.spec.join(" ")}`), "COMMIT", ""].join(
      "\n",
    ),
  );
  return (source: string, destination: string) =>
    traverse(table, "INPUT", { source, destination, protocol: "tcp", port: 80, states: ["NEW"] }).verdict;
}

describe("node-side fail-closed", () => {
  it("denies an uncomputed pod address of the node's block, and nothing else new", () => {
    const input = nodeInput(["10.244.0.0/28"]);
    expect(input("10.244.1.9", "10.244.0.9")).toBe("DROP");
    expect(input("10.244.1.9", open.ip)).toBe("ACCEPT");
    expect(input("10.244.1.9", guarded.ip)).toBe("ACCEPT");
    expect(input("10.244.2.9", guarded.ip)).toBe("DROP");
    expect(input("10.244.1.9", "10.244.0.16")).toBe("ACCEPT");
  });

  it("without the option, an uncomputed address is not touched (negative control)", () => {
    expect(nodeInput()("10.244.1.9", "10.244.0.9")).toBe("ACCEPT");
  });
});
