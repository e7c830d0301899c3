// Benchmark: the controller program (`aks-ipvlan controller`, a child process) against the REAL
// kube-apiserver and etcd (test/realkube/control-plane.ts), with nodes joining in waves as a node pool
// scales out. Per wave: how long creating its nodes took, the time from the wave's first node to the
// last node annotated with its block, and the controller's RSS afterwards. At the end: the node PATCH
// requests the API server answered (its own apiserver_request_total), per node, and the controller's
// peak RSS and CPU time. Measures; asserts nothing.
// Run: node bench/controller-scale.ts [nodes=5000] [wave=500] [mode=vxlan] [--dist] [--heap=MB]
// (needs the programs scripts/build-kube.sh builds; vnet mode here has no route table: allocation only;
// --dist runs dist/cli/main.js, the compiled program the image runs, after `npm run build`, instead of
// the TypeScript sources; --heap=MB caps the controller's V8 old space, which shows how much of its
// RSS is live data and how much garbage not yet collected)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { connect, type KubeObject } from "../src/kube/client.ts";
import { Informer } from "../src/kube/informer.ts";
import { mapBounded } from "../src/sys/bounded.ts";
import { BLOCKS_ANNOTATION } from "../src/ipam/annotation.ts";
import { LEDGER_NAME, NAMESPACE } from "../src/manifests/names.ts";
import { missingPrograms, startControlPlane, type ControlPlane } from "../test/realkube/control-plane.ts";
import { freePort, nodeIp } from "../test/controller/harness.ts";

const dist = process.argv.includes("--dist");
const heap = process.argv.find((arg) => arg.startsWith("--heap="))?.slice("--heap=".length);
const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const [count = 5000, waveSize = 500] = args.slice(0, 2).map(Number);
const mode = args[2] ?? "vxlan";
const entry = new URL(dist ? "../dist/cli/main.js" : "../src/cli/main.ts", import.meta.url).pathname;
const ledgerRef = { apiVersion: "v1", kind: "ConfigMap", name: LEDGER_NAME, namespace: NAMESPACE };
const missing = missingPrograms();
if (missing) {
  console.error(`controller-scale: ${missing}`);
  process.exit(1);
}

const plane = await startControlPlane();
const dir = await mkdtemp(join(tmpdir(), "aks-ipvlan-bench-"));
const stop = new AbortController();
let controller: ReturnType<typeof spawn> | undefined;
try {
  await bench(plane, dir);
} finally {
  stop.abort();
  controller?.kill("SIGTERM");
  await plane.close();
  await rm(dir, { recursive: true, force: true });
}

async function bench(plane: ControlPlane, dir: string): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(plane.kubeconfig);
  const api = connect(config);
  await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } }, { force: true });

  // When each node first showed its block, seen through a watch of our own.
  const annotatedAt = new Map<string, number>();
  let progress = () => {};
  const watch = new Informer(api, "v1", "Node", {
    onEvent: (_type, node) => {
      if (node.metadata.annotations?.[BLOCKS_ANNOTATION] && !annotatedAt.has(node.metadata.name)) {
        annotatedAt.set(node.metadata.name, performance.now());
        progress();
      }
    },
  });
  const watching = watch.run(stop.signal);

  const spec = join(dir, "spec.yaml");
  await writeFile(
    spec,
    `name: bench\nnodeSubnet: 10.224.0.0/16\npodPool: [10.240.0.0/14]\nrouting: {mode: ${mode}}\n`,
  );
  const listen = `127.0.0.1:${await freePort()}`;
  const child = spawn(
    process.execPath,
    [entry, ...["controller", "--config", spec, "--kubeconfig", plane.kubeconfig, "--listen", listen]],
    // Its log (a line per block given) goes nowhere: writing it is part of what it costs.
    { env: { ...process.env, POD_NAME: "bench" }, stdio: ["ignore", "ignore", "inherit"] },
  );
  controller = child;
  const pid = child.pid!;
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const died = exited.then((code) => {
    throw new Error(`the controller exited (code ${code}) before every node had a block`);
  });

  // Started and leading: its ledger exists once the first pass ran (the first pass runs on the empty list).
  await until(async () => (await api.get(ledgerRef)) !== undefined, died);
  console.log(
    `nodes: ${count} in waves of ${waveSize}, routing.mode ${mode}, real kube-apiserver + etcd; controller: ${entry}${heap ? `, V8 old space at most ${heap} MB` : ""}`,
  );
  console.log(
    `controller leading, before any node: RSS ${mib(status(pid, "VmRSS"))}, V8 heap used ${mib(await heapUsed(listen))}`,
  );
  console.log("wave  created in  last annotation after wave start  controller RSS  V8 heap used");
  for (let start = 0; start < count; start += waveSize) {
    const names = Array.from({ length: Math.min(waveSize, count - start) }, (_, i) => `node-${start + i}`);
    const began = performance.now();
    await mapBounded(names, 16, (name) => api.create(node(name, nodeIp(Number(name.slice(5))))));
    const created = performance.now();
    await Promise.race([
      died,
      new Promise<void>((resolve) => {
        progress = () => {
          if (names.every((name) => annotatedAt.has(name))) resolve();
        };
        progress();
      }),
    ]);
    const last = Math.max(...names.map((name) => annotatedAt.get(name)!));
    console.log(
      `${String(start / waveSize + 1).padStart(4)}  ${seconds(created - began).padStart(10)}  ${seconds(last - began).padStart(34)}  ${mib(status(pid, "VmRSS")).padStart(14)}  ${mib(await heapUsed(listen)).padStart(12)}`,
    );
  }

  const patches = await apiserverRequests(plane, "PATCH", "nodes");
  const [user, system] = cpuSeconds(pid);
  console.log(
    `node PATCH requests the API server answered: ${patches.total} (${(patches.total / count).toFixed(3)} per node; ${patches.conflicts} of them 409 Conflict)`,
  );
  console.log(
    `controller: peak RSS ${mib(status(pid, "VmHWM"))}, RSS now ${mib(status(pid, "VmRSS"))}, CPU ${user.toFixed(1)} s user + ${system.toFixed(1)} s system`,
  );
  died.catch(() => undefined);
  child.kill("SIGTERM");
  await exited;
  stop.abort();
  await watching;
}

/** Polls `check` every 100 ms until it holds, or fails with `died`. */
async function until(check: () => Promise<boolean>, died: Promise<never>): Promise<void> {
  let failed: unknown;
  died.catch((error: unknown) => (failed = error));
  while (!(await check())) {
    if (failed) throw failed;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A node as the kubelet registers it. */
function node(name: string, ip: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    status: { addresses: [{ type: "InternalIP", address: ip }] },
  };
}

/** A field of /proc/PID/status in bytes (the kernel writes kB). */
function status(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((text) => text.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

/** User and system CPU seconds of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks). */
function cpuSeconds(pid: number): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = 100;
  return [Number(fields[11]) / ticks, Number(fields[12]) / ticks];
}

/** The controller's own nodejs_heap_size_used_bytes, from its /metrics. */
async function heapUsed(listen: string): Promise<number> {
  const text = await (await fetch(`http://${listen}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** The API server's own count of requests of one verb on one resource, from its /metrics. */
async function apiserverRequests(
  plane: ControlPlane,
  verb: string,
  resource: string,
): Promise<{ total: number; conflicts: number }> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      `${plane.url}/metrics`,
      { ca: plane.ca, cert: plane.admin.cert, key: plane.admin.key },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve(Buffer.concat(chunks).toString()));
      },
    );
    req.on("error", reject);
    req.end();
  });
  let total = 0;
  let conflicts = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    if (!line.includes(`resource="${resource}"`) || !line.includes(`verb="${verb}"`)) continue;
    const value = Number(line.split(" ").pop());
    total += value;
    if (line.includes('code="409"')) conflicts += value;
  }
  return { total, conflicts };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
