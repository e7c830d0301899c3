// doctor's facts and findings against the in-test API server (test/apiserver): the agents' status
// comes through exec into their pods, which needs a kubelet the real control plane here does not have.
import { beforeEach, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import type { KubeApi } from "../../src/kube/client.ts";
import type { PodExec, PodTarget } from "../../src/kube/exec.ts";
import { gatherFacts } from "../../src/doctor/gather.ts";
import { diagnose, hasErrors, type DoctorFinding } from "../../src/doctor/diagnose.ts";
import type { AgentStatus } from "../../src/agent/status.ts";
import { parseSpec } from "../../src/spec/load.ts";
import { AGENT_NAME, LEDGER_NAME, NAMESPACE, labelsOf } from "../../src/manifests/names.ts";
import { plan } from "../../src/ipam/planner.ts";
import { DEFAULT_PATHS, desiredNode } from "../../src/agent/desired.ts";
import { contentHash } from "../../src/agent/cni-files.ts";
import type { TableRoute } from "../../src/routes/diff.ts";
import { coreDns, node } from "./actors.ts";

const spec = parseSpec(
  `${readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8")}
controller:
  routeTable: { subscriptionId: 1d2c3b4a-0000-4000-8000-00000000a1b2, resourceGroup: rg, name: pods }
`,
);
const planned = plan(spec);
const blockOf = (name: string) => planned.nodes.find((n) => n.name === name)!.blocks[0]!.cidr;

const kube = useInTestApiServer({});
let server: ApiServer;
let api: KubeApi;
beforeEach(async () => {
  ({ server, api } = kube);
});

function healthyStatus(name: string): AgentStatus {
  const nodePlan = planned.nodes.find((n) => n.name === name)!;
  return {
    node: name,
    ready: true,
    blocks: [nodePlan.blocks[0]!.cidr],
    conflist: {
      path: "/etc/cni/net.d/10-aks-ipvlan.conflist",
      hash: contentHash(desiredNode(spec, nodePlan, DEFAULT_PATHS).conflist),
    },
    chains: { nat: ["AKS-IPVLAN-POSTROUTING", "AKS-IPVLAN-MASQ"], filter: ["AKS-IPVLAN-OUTPUT"] },
    hostDevice: "ipvl-host",
    ipForward: "1",
    addresses: { inUse: 3, capacity: 16 },
    lastError: null,
  };
}

/** Answers the doctor's status fetch in each agent pod with the status given for its node. */
function statusExec(statuses: Record<string, AgentStatus | "unreachable">) {
  const calls: Array<{ target: PodTarget; argv: readonly string[] }> = [];
  const exec: PodExec = {
    async exec(target, argv) {
      calls.push({ target, argv });
      const pod = server.get("v1", "Pod", target.name, target.namespace)!;
      const status = statuses[(pod.spec as { nodeName: string }).nodeName];
      if (!status || status === "unreachable")
        return { code: 1, stdout: "", stderr: "TypeError: fetch failed" };
      return { code: 0, stdout: JSON.stringify(status), stderr: "" };
    },
  };
  return { exec, calls };
}

function installed(nodes: Array<[string, string]>, agentPods = nodes.map(([name]) => name)) {
  server.put(coreDns(true));
  server.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  server.put({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: AGENT_NAME, namespace: NAMESPACE },
    spec: { selector: { matchLabels: labelsOf(AGENT_NAME) }, template: {} },
  });
  for (const [name, ip] of nodes) server.put(node(name, ip, { "aks-ipvlan.io/blocks": blockOf(name) }));
  for (const name of agentPods) {
    server.put({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `agent-${name}`, namespace: NAMESPACE, labels: labelsOf(AGENT_NAME) },
      spec: { nodeName: name, containers: [{ name: "agent", image: "x" }] },
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
    });
  }
}

const problems = (findings: DoctorFinding[]) =>
  findings
    .filter((f) => f.severity !== "ok")
    .map((f) => `${f.severity} ${f.check} ${f.subject}: ${f.message}`);

const goodRoutes = (): TableRoute[] =>
  planned.routes.filter(
    (r) =>
      r.name.endsWith(blockOf("node1").replace(/[./]/g, "-")) ||
      r.name.endsWith(blockOf("node2").replace(/[./]/g, "-")),
  );

describe("doctor against the in-test API server", () => {
  it("finds nothing wrong in a healthy cluster, reading each node's status in its agent pod", async () => {
    installed([
      ["node1", "10.224.0.4"],
      ["node2", "10.224.0.5"],
    ]);
    server.put(node("win1", "10.224.0.9", {}, "windows")); // no agent, no block: not ours
    const { exec, calls } = statusExec({ node1: healthyStatus("node1"), node2: healthyStatus("node2") });
    const findings = diagnose(await gatherFacts({ api, exec, spec, routeTable: async () => goodRoutes() }));
    expect(problems(findings)).toEqual([]);
    expect(hasErrors(findings)).toBe(false);
    expect(calls.map((c) => c.target.container)).toEqual(["agent", "agent"]);
    expect(calls[0]?.argv.slice(0, 2)).toEqual(["node", "-e"]);
    expect(calls[0]?.argv.at(-1)).toBe("http://127.0.0.1:9464/status");
  });

  it("names each broken thing with a fix", async () => {
    installed(
      [
        ["node1", "10.224.0.4"],
        ["node2", "10.224.0.5"],
        ["node3", "10.224.0.6"],
      ],
      ["node1", "node2"],
    );
    server.put(coreDns(false));
    server.put({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: LEDGER_NAME, namespace: NAMESPACE },
      data: { "10.224.0.96_28": "gone-node" },
    });
    const broken: AgentStatus = {
      ...healthyStatus("node1"),
      chains: { nat: [], filter: [] },
      ipForward: "0",
      hostDevice: null,
      addresses: { inUse: 15, capacity: 16 },
    };
    const { exec } = statusExec({ node1: broken, node2: "unreachable" });
    const findings = diagnose(
      await gatherFacts({ api, exec, spec, routeTable: async () => goodRoutes().slice(1) }),
    );
    expect(problems(findings)).toEqual([
      "error masquerade chain node1: our nat chains are missing: pods cannot reach the internet",
      "error ip_forward node1: net.ipv4.ip_forward = 0: same-node ClusterIP and cross-node NodePort fail",
      "error host device node1: missing: kubelet probes and same-node services cannot reach pods",
      "warning addresses node1: 15/16 in use: nearly full",
      ...["conflist", "masquerade chain", "ip_forward", "host device", "addresses"].map(
        (check) => `not checked ${check} node2: cannot read the agent's /status: TypeError: fetch failed`,
      ),
      "error agent pod node3: no agent pod on this node",
      "error CoreDNS cluster: not ready (0/2 replicas ready, 2 updated, 2 in total): pods started before pod networking worked stay broken",
      "warning blocks cluster: 10.224.0.96/28 is held for gone-node, which is no longer a node",
      `error Azure routes cluster: missing or wrong: aks-ipvlan-aks-${blockOf("node1").replace(/[./]/g, "-")} ${blockOf("node1")} via 10.224.0.4; pods on other nodes cannot reach this block`,
      `error Azure routes cluster: missing or wrong: aks-ipvlan-aks-${blockOf("node3").replace(/[./]/g, "-")} ${blockOf("node3")} via 10.224.0.6; pods on other nodes cannot reach this block`,
    ]);
    expect(findings.filter((f) => f.severity === "error").every((f) => f.fix)).toBe(true);
  });

  it("reports a conflist written for another block than the node holds, and a node without a block", async () => {
    installed([["node1", "10.224.0.4"]]);
    server.put(node("node2", "10.224.0.5"));
    const { exec } = statusExec({ node1: { ...healthyStatus("node1"), blocks: ["10.224.0.240/28"] } });
    const findings = diagnose(await gatherFacts({ api, exec, routeTable: { unavailable: "not used" } }));
    expect(problems(findings)).toEqual([
      `error conflist node1: written for 10.224.0.240/28, but the node holds ${blockOf("node1")}`,
      "error node block node2: the node has no block (annotation aks-ipvlan.io/blocks): no pod on it can get an address",
      "error agent pod node2: no agent pod on this node",
      "not checked Azure routes cluster: no spec given (--config): the route table is not known",
    ]);
  });

  it("says the agent is not installed", async () => {
    server.put(coreDns(true));
    const findings = diagnose(
      await gatherFacts({ api, exec: statusExec({}).exec, spec, routeTable: async () => [] }),
    );
    expect(findings[0]).toMatchObject({
      check: "agent",
      severity: "error",
      fix: "aks-ipvlan install --config FILE",
    });
  });
});
