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

describe("diagnose in vxlan mode", () => {
  const tunnel = (peers: number, mtu = 1450): AgentStatus => ({
    ...status,
    overlay: { device: "vxlan-aks", peers, mtu },
  });
  const cluster = (...nodes: NodeFacts[]): ClusterFacts => ({ ...facts(nodes), overlay: { mtu: 1450 } });
  const node = (name: string, agentStatus: AgentStatus) => ({
    ...nodeWith(name, [`10.241.0.${name.length}/32`], agentStatus),
    ip: "10.224.0.4",
  });

  it("is ok when every node's tunnel reaches every other node with the spec's MTU", () => {
    expect(of("overlay", cluster(node("n1", tunnel(1)), node("n22", tunnel(1))))).toEqual([
      "ok: vxlan-aks reaches all 1 other nodes, MTU 1450",
      "ok: vxlan-aks reaches all 1 other nodes, MTU 1450",
    ]);
  });

  it("names a missing device, missing peers and a wrong MTU", () => {
    expect(of("overlay", cluster(node("n1", status), node("n22", tunnel(0, 1500))))).toEqual([
      "error: no tunnel device reported: pods on other nodes cannot reach this node's pods",
      "error: vxlan-aks reaches 0 of the 1 other nodes with a block: pods there and here cannot reach each other",
      "error: vxlan-aks has MTU 1500, the spec's pod MTU is 1450: full-size packets across nodes are dropped",
    ]);
    // Negative control: vnet mode knows no overlay.
    expect(of("overlay", facts([node("n1", status)]))).toEqual([]);
  });
});

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
