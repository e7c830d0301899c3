import { describe, expect, it } from "vitest";
import { diagnose } from "./diagnose.ts";
import type { ClusterFacts, NodeFacts } from "./facts.ts";
import type { AgentStatus } from "../agent/status.ts";

const status: AgentStatus = {
  node: "node1",
  ready: true,
  blocks: ["10.224.0.16/28"],
  conflist: { path: "/etc/cni/net.d/10-aks-ipvlan.conflist", hash: "h" },
  chains: { nat: ["AKS-IPVLAN-MASQ"], filter: [] },
  hostDevice: "ipvl-host",
  ipForward: "1",
  addresses: { inUse: 1, capacity: 16 },
  lastError: null,
};

function nodeWith(name: string, blocks: string[], agentStatus: AgentStatus = status): NodeFacts {
  return {
    name,
    blocks,
    agentPod: { name: `agent-${name}`, phase: "Running", ready: true },
    status: { ok: true, value: agentStatus },
  };
}

function facts(nodes: NodeFacts[]): ClusterFacts {
  return {
    agentInstalled: true,
    nodes,
    coreDns: { found: true, ready: true, progress: "2/2" },
    routes: { ok: false, reason: "not configured" },
  };
}

const of = (check: string, clusterFacts: ClusterFacts) =>
  diagnose(clusterFacts)
    .filter((finding) => finding.check === check)
    .map((finding) => `${finding.severity}: ${finding.message}`);

describe("diagnose", () => {
  it("grades addresses in use: ok, nearly full from 90 %, full", () => {
    const at = (inUse: number) =>
      of(
        "addresses",
        facts([nodeWith("n1", ["10.224.0.16/28"], { ...status, addresses: { inUse, capacity: 20 } })]),
      );
    expect(at(17)).toEqual(["ok: 17/20 in use"]);
    expect(at(18)).toEqual(["warning: 18/20 in use: nearly full"]);
    expect(at(20)).toEqual(["error: 20/20 in use: full"]);
  });

  it("reports one block annotated on two nodes", () => {
    const findings = of(
      "blocks",
      facts([nodeWith("n1", ["10.224.0.16/28"]), nodeWith("n2", ["10.224.0.16/28"])]),
    );
    expect(findings).toEqual([
      "error: 10.224.0.16/28 is annotated on n1 and n2: their pods get the same addresses",
    ]);
  });

  it("reports the agent's last reconcile error, and a conflist from another spec as a warning", () => {
    const clusterFacts = facts([
      {
        ...nodeWith("n1", ["10.224.0.16/28"], { ...status, lastError: "iptables-restore: exit 4" }),
        expectedConflistHash: "other",
      },
    ]);
    expect(of("agent", clusterFacts)).toEqual(["error: last reconcile failed: iptables-restore: exit 4"]);
    expect(of("conflist", clusterFacts)).toEqual([
      "warning: differs from what this spec renders for the node's block",
    ]);
  });

  it("does not read a not-running agent pod's status, and says why", () => {
    const node: NodeFacts = {
      name: "n1",
      blocks: ["10.224.0.16/28"],
      agentPod: {
        name: "agent-n1",
        phase: "Pending",
        ready: false,
        problem: "agent: ImagePullBackOff: denied",
      },
      status: { ok: false, reason: "agent pod is Pending" },
    };
    expect(of("agent pod", facts([node]))).toEqual([
      "error: agent-n1 is Pending, not ready (agent: ImagePullBackOff: denied)",
    ]);
    expect(of("ip_forward", facts([node]))).toEqual([
      "not checked: cannot read the agent's /status: agent pod is Pending",
    ]);
  });
});
