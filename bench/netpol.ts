// Benchmark: the agent's NetworkPolicy loop on one node with 100 pods and 100 policies, on this
// machine's kernel (no User-Mode Linux: 100 real network namespaces with a veth eth0 each, so every
// restore is a real iptables-legacy-restore). The in-test API server runs in a worker thread, so the
// main thread's heap is the agent loop's alone. Prints the time from an API write to the rules in
// force (a policy added, a pod's labels changed), the first full sync, and the loop's memory.
// Needs root. Run: node --expose-gc bench/netpol.ts [pods]
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { agentMetrics } from "../src/agent/metrics.ts";
import { policyMetrics } from "../src/agent/policy/metrics.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { ADMIN_TOKEN, startApiServer } from "../test/apiserver/server.ts";
import { connect } from "../src/kube/client.ts";
import { run } from "../src/sys/exec.ts";
import { inNetns } from "../src/testbed/guest/netns.ts";
import { backend } from "../src/iptables/backend.ts";
import { netnsLocator } from "../src/agent/policy/netns.ts";
import { startPolicyLoop } from "../src/agent/policy/watch.ts";
import type { SyncReport } from "../src/agent/policy/enforcer.ts";

const NODE = "bench-node";
const NODE_IP = "10.250.255.1";
const NAMESPACES = 10;
const PREFIX = "npbench";
const NODE_NS = `${PREFIX}-node`;

const podIp = (i: number) => `10.250.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const nsOf = (i: number) => `team-${i % NAMESPACES}`;
const appOf = (i: number) => `app-${Math.floor(i / NAMESPACES) % 10}`;

/** Policy i: in namespace i mod 10, selects one app and lets the next app (any team-* namespace) in. */
function policy(i: number, name = `policy-${i}`) {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace: nsOf(i) },
    spec: {
      podSelector: { matchLabels: { app: appOf(i) } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { app: appOf(i + NAMESPACES) } }, namespaceSelector: {} }],
          ports: [{ port: 80 + (i % 3), protocol: "TCP" }],
        },
      ],
      egress: [
        { to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.250.0.0/16"] } }] },
        { ports: [{ port: 53, protocol: "UDP" }] },
      ],
    },
  };
}

if (isMainThread) await main();
else await apiServer();

async function main(): Promise<void> {
  const pods = Number(process.argv[2] ?? 100);
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  await makeNamespaces(pods);
  const stateDir = await mkdtemp(join(tmpdir(), "netpol-bench-"));
  const worker = new Worker(new URL(import.meta.url), { workerData: { pods } });
  const [{ url }] = (await once(worker, "message")) as [{ url: string }];
  const write = async (message: object) => {
    worker.postMessage(message);
    await once(worker, "message");
  };
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "bench", server: url, skipTLSVerify: true }],
    users: [{ name: "bench", token: ADMIN_TOKEN }],
    contexts: [{ name: "bench", cluster: "bench", user: "bench" }],
    currentContext: "bench",
  });

  let waiter: ((report: SyncReport, latencyMs: number) => void) | undefined;
  const nextSync = (accept: (report: SyncReport) => boolean) =>
    new Promise<{ report: SyncReport; latencyMs: number }>((resolve) => {
      waiter = (report, latencyMs) => {
        if (!accept(report)) return;
        waiter = undefined;
        resolve({ report, latencyMs });
      };
    });
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const first = nextSync((report) => report.applied.length > 0 || report.unlocated.length > 0);
  const loop = startPolicyLoop(connect(kubeConfig), {
    node: NODE,
    nodeIP: NODE_IP,
    serviceCIDR: "10.0.0.0/16",
    // The node's own rules (Service chains) go to a namespace standing in for the node, not this host's.
    runner: inNetns(NODE_NS),
    backend: backend("legacy"),
    locator: netnsLocator(inNetns(NODE_NS)),
    podCIDRs: ["10.250.0.0/16"],
    stateDir,
    metrics: policyMetrics(agentMetrics().registry),
    log: pino({ level: process.env.BENCH_LOG ?? "silent" }),
    resyncMs: 3_600_000,
    onSync: (report, latencyMs) => waiter?.(report, latencyMs),
  });
  const { report: initial } = await first;
  const firstMs = performance.now() - started;
  gc();
  const heap = process.memoryUsage().heapUsed;
  const rss = process.memoryUsage().rss;

  const timings: { what: string; ms: number; pods: number; latencyMs: number; report: SyncReport }[] = [];
  const measure = async (what: string, message: object) => {
    const synced = nextSync((report) => report.applied.length > 0);
    const t = performance.now();
    await write(message);
    const { report, latencyMs } = await synced;
    timings.push({ what, ms: performance.now() - t, pods: report.applied.length, latencyMs, report });
  };
  for (let i = 0; i < 5; i++) await measure(`policy added (#${i + 1})`, { policy: 1000 + i });
  for (let i = 0; i < 5; i++) await measure(`pod labels changed (#${i + 1})`, { relabel: i });

  console.log(`pods on the node: ${pods}, policies: 100, namespaces: ${NAMESPACES}`);
  console.log(
    `first sync (list + compile + ${initial.applied.length} restores): ${firstMs.toFixed(0)} ms; rules programmed ${initial.rulesProgrammed}, pods enforced ${initial.enforcedPods}, failed ${initial.failed.length}, unlocated ${initial.unlocated.length}`,
  );
  for (const t of timings)
    console.log(
      `${t.what.padEnd(26)} API write → rules in force: ${t.ms.toFixed(0).padStart(5)} ms (${t.pods} pods updated; compile ${t.report.compileMs} ms, apply ${t.report.applyMs} ms)`,
    );
  const p50 = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  console.log(
    `p50 policy change → enforced: ${p50(timings.slice(0, 5).map((t) => t.ms)).toFixed(0)} ms; label change → enforced: ${p50(timings.slice(5).map((t) => t.ms)).toFixed(0)} ms (target < 1000 ms)`,
  );
  console.log(
    `agent loop memory: heap ${mib(heap)} (${mib(heap - heapBefore)} for informers, world and applied rules), process RSS ${mib(rss)} (RSS includes the worker with the API server)`,
  );
  await loop.stop();
  await worker.terminate();
  await removeNamespaces(pods);
  await rm(stateDir, { recursive: true, force: true });
}

async function makeNamespaces(pods: number): Promise<void> {
  await removeNamespaces(pods);
  const names = Array.from({ length: pods }, (_, i) => `${PREFIX}-${i}`);
  await run("ip", ["-batch", "-"], {
    input: `netns add ${NODE_NS}\n${names.flatMap((ns, i) => [`netns add ${ns}`, `link add ${PREFIX}${i} type veth peer name eth0 netns ${ns}`]).join("\n")}\n`,
  });
  await run("ip", ["-batch", "-"], {
    input: `${names.map((ns, i) => `netns exec ${ns} ip addr add ${podIp(i)}/32 dev eth0`).join("\n")}\n`,
  });
}

async function removeNamespaces(pods: number): Promise<void> {
  const lines = [NODE_NS, ...Array.from({ length: pods }, (_, i) => `${PREFIX}-${i}`)].map(
    (ns) => `netns del ${ns}`,
  );
  await run("ip", ["-force", "-batch", "-"], { input: `${lines.join("\n")}\n`, okCodes: [0, 1] });
}

async function apiServer(): Promise<void> {
  const { pods } = workerData as { pods: number };
  const server = await startApiServer({ bookmarkIntervalMs: 1000 });
  for (let n = 0; n < NAMESPACES; n++) {
    const name = `team-${n}`;
    server.put({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
    });
  }
  const podObject = (i: number, labels: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `pod-${i}`, namespace: nsOf(i), labels },
    spec: { nodeName: NODE, containers: [{ name: "app", ports: [{ name: "http", containerPort: 80 }] }] },
    status: { phase: "Running", podIP: podIp(i), podIPs: [{ ip: podIp(i) }] },
  });
  for (let i = 0; i < pods; i++) server.put(podObject(i, { app: appOf(i) }));
  for (let i = 0; i < 100; i++) server.put(policy(i));
  parentPort!.on("message", (message: { policy?: number; relabel?: number }) => {
    if (message.policy !== undefined) server.put(policy(message.policy));
    if (message.relabel !== undefined)
      server.put(podObject(message.relabel, { app: appOf(message.relabel + NAMESPACES) }));
    parentPort!.postMessage("done");
  });
  parentPort!.postMessage({ url: server.url });
}
