// Benchmark: 5,000 nodes join a cluster while one controller runs. The in-test API server and ARM
// endpoint run in a worker thread, so the main thread's heap is the controller's alone.
// Prints time until every node has a block, time until every route exists, API writes per node,
// and the controller's memory.
// Run: node --expose-gc bench/controller.ts [nodes]
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { once } from "node:events";
import { pino } from "pino";
import { ADMIN_TOKEN, startApiServer } from "../test/apiserver/server.ts";
import { BLOCKS_ANNOTATION } from "../src/ipam/annotation.ts";
import {
  addNode,
  nodeIp,
  prepareCluster,
  ROUTE_TABLE,
  startArm,
  testSpec,
  until,
  credential,
} from "../test/controller/harness.ts";
import { connect } from "../src/kube/client.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { runController } from "../src/controller/run.ts";

interface Progress {
  allocated: number;
  routes: number;
  nodePatches: number;
  ledgerWrites: number;
  events: number;
  leaseWrites: number;
  writes: number;
  armWrites: number;
}

if (isMainThread) await main();
else await cluster();

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 5000);
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const worker = new Worker(new URL(import.meta.url), { workerData: { count } });
  const [{ url, endpoint, ca }] = (await once(worker, "message")) as [
    { url: string; endpoint: string; ca: string },
  ];
  let progress: Progress | undefined;
  worker.on("message", (message: Progress) => (progress = message));
  const ask = () => worker.postMessage("progress");

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "bench", server: url, skipTLSVerify: true }],
    users: [{ name: "bench", token: ADMIN_TOKEN }],
    contexts: [{ name: "bench", cluster: "bench", user: "bench" }],
    currentContext: "bench",
  });
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const stop = new AbortController();
  const started = performance.now();
  const running = runController(
    {
      spec: testSpec({ podPool: ["10.240.0.0/14"], controller: { routeTable: ROUTE_TABLE } }),
      api: connect(kubeConfig),
      log: pino({ level: process.env.BENCH_LOG ?? "silent" }),
      identity: "bench",
      arm: { endpoint, ca, credential, pollIntervalMs: 5 },
      timings: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 200 },
    },
    stop.signal,
  );
  worker.postMessage("join");
  const poll = async (what: string, done: (p: Progress) => boolean) => {
    await until(
      what,
      () => {
        ask();
        return progress !== undefined && done(progress);
      },
      1_800_000,
    );
    return performance.now();
  };
  const allocatedAt = await poll("all allocated", (p) => p.allocated === count);
  const routedAt = await poll("all routes", (p) => p.routes === count);
  gc();
  const heapLeading = process.memoryUsage().heapUsed;
  const rss = process.memoryUsage().rss;
  await poll("events settled", (p) => p.events >= 2 * count);
  const p = progress!;
  stop.abort();
  await running;

  console.log(`nodes: ${count}`);
  console.log(`time to all allocated: ${((allocatedAt - started) / 1000).toFixed(2)} s`);
  console.log(`time to all routes:    ${((routedAt - started) / 1000).toFixed(2)} s`);
  console.log(
    `API writes: node patches ${p.nodePatches} (${(p.nodePatches / count).toFixed(3)} per node), ledger ${p.ledgerWrites}, ` +
      `events ${p.events}, lease ${p.leaseWrites}; all writes ${(p.writes / count).toFixed(3)} per node`,
  );
  console.log(`ARM writes: ${p.armWrites} (${(p.armWrites / count).toFixed(2)} per node)`);
  console.log(
    `controller memory: heap ${mib(heapLeading)} (${mib(heapLeading - heapBefore)} over its start), process RSS ${mib(rss)} (RSS includes the worker with the test servers)`,
  );
  await worker.terminate();
}

async function cluster(): Promise<void> {
  const { count } = workerData as { count: number };
  const server = await startApiServer({ bookmarkIntervalMs: 1000 });
  prepareCluster(server);
  const { arm, options } = await startArm();
  arm.pageSize = 100;
  const routes = arm.tables.get("1d2c3b4a-0000-4000-8000-00000000a1b2/mc_rg/rt")!;
  // Counted as changes happen: scanning 5,000 nodes on every progress question would steal the CPU
  // the API server needs.
  const allocated = new Set<string>();
  server.onChange((event) => {
    const metadata = event.object.metadata as { name: string; annotations?: Record<string, string> };
    if (event.object.kind === "Node" && metadata.annotations?.[BLOCKS_ANNOTATION])
      allocated.add(metadata.name);
  });
  parentPort!.on("message", async (message: string) => {
    if (message === "join") {
      for (let i = 0; i < count; i++) {
        arm.nics.push({
          resourceGroup: "MC_rg",
          name: `node-${i}-nic`,
          privateIp: nodeIp(i),
          enableIPForwarding: true,
        });
        addNode(server, `node-${i}`, nodeIp(i));
        if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
      }
      return;
    }
    const writes = server.writes();
    parentPort!.postMessage({
      allocated: allocated.size,
      routes: routes.size,
      nodePatches: writes.filter((r) => r.path.startsWith("/api/v1/nodes/")).length,
      ledgerWrites: writes.filter((r) => r.path.includes("/configmaps")).length,
      events: writes.filter((r) => r.path.includes("/events")).length,
      leaseWrites: writes.filter((r) => r.path.includes("/leases")).length,
      writes: writes.length,
      armWrites: arm.requests.filter((r) => r.method !== "GET").length,
    } satisfies Progress);
  });
  parentPort!.postMessage({ url: server.url, endpoint: options.endpoint, ca: options.ca });
}
