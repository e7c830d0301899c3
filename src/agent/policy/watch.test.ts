import { afterEach, beforeEach, describe, expect, it } from "vitest";
import pino from "pino";
import { ADMIN_TOKEN, startApiServer, type ApiServer } from "../../../test/apiserver/server.ts";
import { fakeRunner } from "../../../test/fakes/runner.ts";
import { tempDir } from "../../../test/fakes/temp-dir.ts";
import { backend } from "../../iptables/backend.ts";
import { restClient } from "../../kube/rest-client.ts";
import { agentMetrics } from "../metrics.ts";
import { policyMetrics } from "./metrics.ts";
import type { SyncReport } from "./enforcer.ts";
import { netnsLocator } from "./netns.ts";
import { startPolicyLoop, type PolicyLoop } from "./watch.ts";

let server: ApiServer;
let loop: PolicyLoop | undefined;
beforeEach(async () => {
  server = await startApiServer({ bookmarkIntervalMs: 50 });
});
afterEach(async () => {
  await loop?.stop();
  loop = undefined;
  await server.close();
});

/** Node n1 with two pod namespaces; restores succeed. */
const ADDRESSES = [
  "netns: cni-aaa",
  "2: eth0    inet 10.224.0.16/16 brd 10.224.255.255 scope global eth0\\       valid_lft forever",
  "netns: cni-bbb",
  "2: eth0    inet 10.224.0.17/16 brd 10.224.255.255 scope global eth0\\       valid_lft forever",
  "",
].join("\n");
const node = () =>
  fakeRunner()
    .on("ip -all netns exec", { stdout: ADDRESSES })
    .on("ip -force -batch -", {})
    .on("iptables-legacy-save", { stdout: "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n" })
    .on("iptables-legacy-restore", {});

const namespace = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels: { "kubernetes.io/metadata.name": name, ...labels } },
});
const pod = (name: string, ip: string, nodeName = "n1", namespace = "x") => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, labels: { app: name } },
  spec: { nodeName, containers: [{ name: "c", image: "busybox", ports: [{ containerPort: 80 }] }] },
  status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
});
/** Ingress to pods labelled app=`target` only from namespaces labelled team=blue. */
const policy = (target: string) => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: `only-blue-to-${target}`, namespace: "x" },
  spec: {
    podSelector: { matchLabels: { app: target } },
    policyTypes: ["Ingress"],
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "blue" } } }] }],
  },
});

async function start(reports: SyncReport[]): Promise<PolicyLoop> {
  const runner = node();
  loop = startPolicyLoop(restClient({ server: server.url, token: async () => ADMIN_TOKEN }), {
    node: "n1",
    nodeIP: "10.224.0.4",
    podCIDRs: ["10.224.0.16/28"],
    runner: runner.run,
    backend: backend("legacy"),
    locator: netnsLocator(runner.run),
    stateDir: await tempDir("policy-loop-"),
    metrics: policyMetrics(agentMetrics().registry),
    log: pino({ level: "silent" }),
    resyncMs: 3_600_000,
    onSync: (report) => reports.push(report),
  });
  return loop;
}

/** Resolves with the first sync report (from now on) that `accept` takes. */
async function nextSync(reports: SyncReport[], accept: (report: SyncReport) => boolean) {
  const from = reports.length;
  const end = Date.now() + 10_000;
  for (;;) {
    const found = reports.slice(from).find(accept);
    if (found) return found;
    if (Date.now() > end) throw new Error("timed out waiting for a policy sync");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const applied = (report: SyncReport) => report.applied.map((outcome) => outcome.pod).sort();

describe("the policy loop over the agent's own client", () => {
  it("lists policies, namespaces and pods, then enforces each change it watches, touching only the pods it affects", async () => {
    server.put(namespace("x"));
    server.put(namespace("y"));
    server.put(pod("a", "10.224.0.16"));
    server.put(pod("b", "10.224.0.17"));
    // A pod of another node: a peer in the world, never enforced here.
    server.put(pod("c", "10.224.1.16", "n2"));
    server.put(pod("d", "10.224.1.17", "n2", "y"));
    server.put(policy("a"));
    const reports: SyncReport[] = [];
    await (
      await start(reports)
    ).firstSync;
    expect(reports[0]).toMatchObject({ enforcedPods: 1, failed: [], unlocated: [] });
    expect(applied(reports[0]!)).toEqual(["x/a", "x/b"]);

    // A second policy isolates b: only b's rules are replaced.
    server.put(policy("b"));
    const isolatedB = await nextSync(reports, (report) => report.applied.length > 0);
    expect(applied(isolatedB)).toEqual(["x/b"]);
    expect(isolatedB.enforcedPods).toBe(2);

    // A namespace gaining the label the policies select lets its pod (y/d) in to both.
    server.put(namespace("y", { team: "blue" }));
    expect(applied(await nextSync(reports, (report) => report.applied.length > 0))).toEqual(["x/a", "x/b"]);

    // Deleting a policy frees its pod.
    server.remove("networking.k8s.io/v1", "NetworkPolicy", "only-blue-to-a", "x");
    const freedA = await nextSync(reports, (report) => report.applied.length > 0);
    expect(applied(freedA)).toEqual(["x/a"]);
    expect(freedA.enforcedPods).toBe(1);
  });

  it("only reads: lists the three kinds cluster-wide and writes nothing", async () => {
    server.put(namespace("x"));
    await (
      await start([])
    ).firstSync;
    const lists = server.requests.filter((record) => record.query.get("watch") !== "true");
    expect(new Set(lists.map((record) => `${record.method} ${record.path}`))).toEqual(
      new Set([
        "GET /apis/networking.k8s.io/v1/networkpolicies",
        "GET /api/v1/namespaces",
        "GET /api/v1/pods",
      ]),
    );
    expect(server.writes()).toEqual([]);
  });
});
