// Benchmark: the node agent. (1) One iptables sync with 1, 100 and 1,000 non-masquerade CIDRs against
// the seed's check-then-add per rule (`iptables -C … || iptables -A …`, one process each), on this
// host's kernel in a private network namespace (iptables-legacy). (2) What each module costs alone
// (bench/agent/imports.ts). (3) The built agent with --kube on this host in a private network
// namespace against the in-test API server (bench/agent/footprint.ts): start → listening / first
// reconcile / ready, RSS and heap after a forced GC, one hour of watch traffic compressed, reconcile
// time, CPU per idle hour; the figures go to bench/results/agent.json, which the DaemonSet's resources
// are tested against. (4) In the testbed's User-Mode Linux guest: start → ready and RSS, and the same
// sync comparison on that kernel.
// Targets (issues 4 and 13): ready < 1 s, RSS < 80 MB, 1,000 CIDRs < 200 ms with one process spawn.
// Run: node --expose-gc bench/agent.ts [--no-guest] [--no-sync]
//      (the same file is the guest's program, `node bench/agent.ts JOB`, and the private-namespace
//      part's, `unshare -n node bench/agent.ts --footprint JOB`)
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { parseSpec, validateSpec } from "../src/spec/load.ts";
import type { ClusterSpec, ClusterSpecInput } from "../src/spec/schema.ts";
import { plan } from "../src/ipam/planner.ts";
import { renderNodeRules } from "../src/noderules/rules.ts";
import { CommandError, run, type Runner } from "../src/sys/exec.ts";
import { backend } from "../src/iptables/backend.ts";
import { cleanupRules, syncRules } from "../src/iptables/apply.ts";
import { parseSave } from "../src/iptables/save.ts";
import { writeFileAtomic } from "../src/sys/atomic-write.ts";
import { readJsonFile } from "../src/testbed/job.ts";
import {
  footprint,
  FootprintResultSchema,
  FootprintJobSchema,
  type FootprintJob,
  type FootprintResult,
} from "./agent/footprint.ts";
import { importCosts } from "./agent/imports.ts";
import { AgentLog } from "../src/testbed/guest/agent-log.ts";

const REPO = resolve(import.meta.dirname, "..");
const COUNTS = [1, 100, 1000];
const legacy = backend("legacy");

interface SyncRow {
  cidrs: number;
  agentFirstMs: number;
  agentFirstSpawns: number;
  agentSteadyMs: number;
  agentSteadySpawns: number;
  seedFirstMs: number;
  seedFirstSpawns: number;
  seedSteadyMs: number;
  seedSteadySpawns: number;
}

const ProgramSchema = z.strictObject({
  /** e.g. "dist (as in the image)" */
  label: z.string(),
  main: z.string(),
});

const GuestJobSchema = z.strictObject({
  specFile: z.string(),
  programs: z.array(ProgramSchema),
  starts: z.number(),
  sync: z.boolean(),
  /** agent --kube against the in-test API server in a private namespace (bench/agent/footprint.ts). */
  footprint: FootprintJobSchema.omit({ specFile: true, dir: true }),
});
type GuestJob = z.infer<typeof GuestJobSchema>;

interface StartRun {
  label: string;
  readyMs: number[];
  rssKb: number[];
}

interface GuestResult {
  kernel: string;
  starts: StartRun[];
  sync: SyncRow[];
  footprint?: FootprintResult;
  error?: string;
}

const count = z.number();
/** What the host reads back from the guest's result.json. */
const GuestResultSchema = z.strictObject({
  kernel: z.string(),
  starts: z.array(z.strictObject({ label: z.string(), readyMs: z.array(count), rssKb: z.array(count) })),
  sync: z.array(
    z.strictObject({
      cidrs: count,
      agentFirstMs: count,
      agentFirstSpawns: count,
      agentSteadyMs: count,
      agentSteadySpawns: count,
      seedFirstMs: count,
      seedFirstSpawns: count,
      seedSteadyMs: count,
      seedSteadySpawns: count,
    }),
  ),
  footprint: FootprintResultSchema.optional(),
  error: z.string().optional(),
}) satisfies z.ZodType<GuestResult>;

function seedSpec(): ClusterSpecInput {
  return parse(readFileSync(join(REPO, "examples/seed.yaml"), "utf8")) as ClusterSpecInput;
}

function withCidrs(count: number): ClusterSpec {
  const cidrs = Array.from({ length: count }, (_, i) => `172.${16 + (i >> 8)}.${i & 255}.0/24`);
  return validateSpec({ ...seedSpec(), masquerade: { nonMasqueradeCIDRs: cidrs } });
}

function counting(runner: Runner): { runner: Runner; spawns: () => number } {
  let spawns = 0;
  return {
    runner: (file, args, options) => {
      spawns++;
      return runner(file, args, options);
    },
    spawns: () => spawns,
  };
}

/** The seed's way: every rule checked with `iptables -C` and appended with `-A` when missing. */
async function seedSync(runner: Runner, payload: string): Promise<void> {
  for (const [table, { chains }] of parseSave(payload)) {
    for (const chain of chains.keys())
      await runner("iptables-legacy", ["-t", table, "-N", chain], { okCodes: [0, 1] });
    for (const [chain, rules] of chains) {
      for (const rule of rules) {
        const args = splitRule(rule);
        try {
          await runner("iptables-legacy", ["-t", table, "-C", chain, ...args]);
        } catch (error) {
          if (!(error instanceof CommandError)) throw error;
          await runner("iptables-legacy", ["-t", table, "-A", chain, ...args]);
        }
      }
    }
  }
}

/** iptables-save quoting (only comments are quoted here) back into an argument array. */
function splitRule(rule: string): string[] {
  return [...rule.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!);
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return Math.round((performance.now() - started) * 10) / 10;
}

async function syncBench(ns: string): Promise<SyncRow[]> {
  const inNs: Runner = (file, args, options) => run("ip", ["netns", "exec", ns, file, ...args], options);
  const rows: SyncRow[] = [];
  for (const cidrs of COUNTS) {
    const spec = withCidrs(cidrs);
    const rules = renderNodeRules(spec, plan(spec).nodes[0]!);
    const agent = counting(inNs);
    const agentFirstMs = await timed(() => syncRules(agent.runner, legacy, rules).then(() => undefined));
    const agentFirstSpawns = agent.spawns();
    const agentSteadyMs = await timed(() => syncRules(agent.runner, legacy, rules).then(() => undefined));
    const agentSteadySpawns = agent.spawns() - agentFirstSpawns;
    await cleanupRules(inNs, legacy, rules.owned);
    const seed = counting(inNs);
    const seedFirstMs = await timed(() => seedSync(seed.runner, rules.chains));
    const seedFirstSpawns = seed.spawns();
    const seedSteadyMs = await timed(() => seedSync(seed.runner, rules.chains));
    const seedSteadySpawns = seed.spawns() - seedFirstSpawns;
    await cleanupRules(inNs, legacy, rules.owned);
    rows.push({
      cidrs,
      agentFirstMs,
      agentFirstSpawns,
      agentSteadyMs,
      agentSteadySpawns,
      seedFirstMs,
      seedFirstSpawns,
      seedSteadyMs,
      seedSteadySpawns,
    });
  }
  return rows;
}

async function withNetns<T>(name: string, work: (ns: string) => Promise<T>): Promise<T> {
  await run("ip", ["netns", "add", name]);
  try {
    return await work(name);
  } finally {
    await run("ip", ["netns", "del", name]);
  }
}

function printSync(where: string, rows: SyncRow[]): void {
  console.log(`\niptables sync, ${where} (ms / process spawns)`);
  console.log("CIDRs  agent first  agent steady  seed first      seed steady");
  for (const r of rows) {
    const cell = (ms: number, spawns: number) => `${ms} ms/${spawns}`.padEnd(14);
    console.log(
      `${String(r.cidrs).padEnd(6)} ${cell(r.agentFirstMs, r.agentFirstSpawns)} ${cell(r.agentSteadyMs, r.agentSteadySpawns)}` +
        ` ${cell(r.seedFirstMs, r.seedFirstSpawns)}  ${cell(r.seedSteadyMs, r.seedSteadySpawns)}`,
    );
  }
}

// ---- guest: the agent's start → ready and RSS on an emulated node, then the sync comparison ----
async function guest(jobFile: string): Promise<void> {
  const job = await readJsonFile(jobFile, GuestJobSchema);
  const result: GuestResult = { kernel: (await import("node:os")).release(), starts: [], sync: [] };
  try {
    const spec = parseSpec(await readFile(job.specFile, "utf8"));
    const node = plan(spec).nodes[0]!;
    await run("ip", ["netns", "add", "node1"]);
    const master = spec.masterInterface;
    await run("ip", ["-n", "node1", "-batch", "-"], {
      input: `link add ${master} type dummy\naddr add ${node.ip}/16 dev ${master}\nlink set ${master} up\nlink set lo up\n`,
    });
    const dir = "/run/agent-bench";
    await mkdir(dir, { recursive: true });
    for (const program of job.programs) {
      const starts: StartRun = { label: program.label, readyMs: [], rssKb: [] };
      for (let i = 0; i < job.starts; i++) {
        // prettier-ignore
        const child = spawn("ip", [
          "netns", "exec", "node1", process.execPath, program.main, "agent",
          "--config", job.specFile, "--node", node.name, "--cni-conf-dir", `${dir}/net.d`,
          "--cni-bin-dir", "/usr/lib/cni", "--ipam-data-dir", `${dir}/ipam`,
        ], { stdio: ["ignore", "pipe", "inherit"] });
        const started = performance.now();
        // The agent's own "ready" line: polling /readyz would take the guest's one CPU from the agent.
        await new AgentLog(child).waitFor((line) => line.msg === "ready", 120_000);
        starts.readyMs.push(Math.round(performance.now() - started));
        const status = await readFile(`/proc/${child.pid}/status`, "utf8");
        starts.rssKb.push(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]));
        const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
        child.kill("SIGTERM");
        await exited;
      }
      result.starts.push(starts);
    }
    const footprintDir = `${dir}/footprint`;
    await mkdir(footprintDir, { recursive: true });
    const footprintJob: FootprintJob = { ...job.footprint, specFile: job.specFile, dir: footprintDir };
    await writeFileAtomic(`${footprintDir}/job.json`, JSON.stringify(footprintJob));
    // prettier-ignore
    await run("unshare", ["-n", "--", process.execPath, "--expose-gc", import.meta.filename, "--footprint", `${footprintDir}/job.json`], { timeoutMs: 600_000 });
    result.footprint = FootprintResultSchema.parse(
      JSON.parse(await readFile(`${footprintDir}/result.json`, "utf8")),
    );
    if (job.sync) result.sync = await withNetns("bench", syncBench);
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFileAtomic(join(dirname(jobFile), "result.json"), `${JSON.stringify(result)}\n`);
  process.exit(0);
}

// ---- host ----
async function host(withGuest: boolean, withSync: boolean): Promise<void> {
  const hostRows = !withSync
    ? undefined
    : await withNetns(`aks-ipvlan-bench-${process.pid}`, syncBench).catch((error: Error) => {
        console.log(`host sync benchmark unavailable: ${error.message}`);
        return undefined;
      });
  if (hostRows) printSync("this host's kernel, iptables-legacy in a private netns", hostRows);

  // The image runs tsc's output; the testbed runs the .ts sources (Node strips the types at load).
  const dist = join(REPO, ".testbed", `bench-dist-${process.pid}`);
  await run(
    join(REPO, "node_modules/.bin/tsc"),
    ["-p", join(REPO, "tsconfig.build.json"), "--outDir", dist],
    {
      okCodes: [0, 1, 2],
    },
  );
  try {
    printImports(await importCosts(dist));
    const result = await hostFootprint(dist);
    printFootprint(result, "this host's kernel (no ipvlan: reconciles fail at the host device)");
    await recordFootprint(result);
    if (withGuest) await guestBench(dist, withSync);
  } finally {
    await rm(dist, { recursive: true, force: true });
  }
}

function printImports(rows: Awaited<ReturnType<typeof importCosts>>): void {
  console.log(
    "\nWhat each module costs alone (built JS, fresh node --expose-gc each, median of 3; RSS/heap after GC)",
  );
  console.log(`${"module".padEnd(78)} RSS MB  heap MB  import ms`);
  for (const row of rows) {
    console.log(
      `${row.label.padEnd(78)} ${String(row.rssMb).padStart(6)}  ${String(row.heapMb).padStart(7)}  ${String(row.ms).padStart(9)}`,
    );
  }
}

/** The footprint part needs its own network namespace (the agent writes iptables and devices). */
async function hostFootprint(dist: string): Promise<FootprintResult> {
  const dir = join(REPO, ".testbed", `bench-footprint-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    const spec = validateSpec(seedSpec());
    const node = plan(spec).nodes[0]!;
    const job: FootprintJob = {
      main: join(dist, "cli/main.js"),
      dist,
      specFile: join(REPO, "examples/seed.yaml"),
      dir,
      block: node.blocks.map((block) => block.cidr).join(","),
      nodeIp: node.ip,
    };
    await writeFileAtomic(join(dir, "job.json"), JSON.stringify(job));
    await run(
      "unshare",
      [
        "-n",
        "--",
        process.execPath,
        "--expose-gc",
        resolve(import.meta.dirname, "agent.ts"),
        "--footprint",
        join(dir, "job.json"),
      ],
      {
        timeoutMs: 600_000,
      },
    );
    return FootprintResultSchema.parse(JSON.parse(await readFile(join(dir, "result.json"), "utf8")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function printFootprint(result: FootprintResult, where: string): void {
  console.log(`\nagent --kube, built JS, NODE_OPTIONS as the DaemonSet's, on ${where}, in a private network`);
  console.log(
    "namespace, against the in-test API server over TLS as its service account (110 pods on the node,",
  );
  console.log("NetworkPolicy enforcement on: 200 policies, every pod and namespace watched)");
  console.log(`  start → listening:        ${result.listeningMs} ms`);
  console.log(`  start → first reconcile:  ${result.firstReconcileMs} ms`);
  console.log(
    result.readyMs !== undefined
      ? `  start → ready:            ${result.readyMs} ms (target < 1000 ms)`
      : `  start → ready:            not here: ${result.firstProblems.join("; ")}`,
  );
  console.log(`  start → first policy sync: ${result.policySyncedMs} ms`);
  console.log("  RSS / heap after a forced GC:");
  for (const sample of result.samples)
    console.log(`    ${sample.label}: ${sample.rssMb} MB / ${sample.heapMb} MB`);
  const rss = result.curve.map((sample) => sample.rssMb);
  if (rss.length > 0) {
    console.log(
      "  one hour of watch traffic, compressed (simulated minute: RSS MB / heap MB after a forced GC):",
    );
    console.log(
      `    ${result.curve.map((sample) => `${sample.label} ${sample.rssMb}/${sample.heapMb}`).join("  ")}`,
    );
    console.log(
      `    min ${Math.min(...rss)} MB, max ${Math.max(...rss)} MB, first→last ${(rss.at(-1)! - rss[0]!).toFixed(1)} MB (target < 80 MB)`,
    );
  }
  const sorted = [...result.reconcileMs].sort((a, b) => a - b);
  if (sorted.length > 0) {
    console.log(
      `  steady reconcile (woken by a Node update): median ${median(sorted)} ms, max ${sorted.at(-1)} ms over ${sorted.length}`,
    );
  }
  const perHour = (seconds: number) => ((seconds / result.idle.seconds) * 3600).toFixed(1);
  console.log(
    `  CPU per idle hour (resync every ${result.idle.resyncSeconds} s, 4 watches, bookmarks every 1 s): ` +
      `${perHour(result.idle.agentCpuSeconds)} s in the agent, ${perHour(result.idle.withChildrenCpuSeconds)} s with the programs it runs (measured over ${result.idle.seconds} s)`,
  );
  if (result.informerCost.length > 0)
    console.log("  informers alone, fresh process, synced (RSS / heap after a forced GC, start → synced):");
  for (const row of result.informerCost)
    console.log(`    ${row.label}: ${row.rssMb} MB / ${row.heapMb} MB, ${row.ms} ms`);
}

/** The figures the DaemonSet's memory request and limit are checked against (src/manifests/agent-resources.test.ts). */
async function recordFootprint(result: FootprintResult): Promise<void> {
  const rss = [...result.samples, ...result.curve].map((sample) => sample.rssMb);
  const record = {
    what: "agent --kube RSS after a forced GC, 110 pods + 200 NetworkPolicies watched, bench/agent.ts",
    steadyRssMb: median(result.curve.map((sample) => sample.rssMb)),
    peakRssMb: Math.max(...rss),
  };
  await mkdir(join(REPO, "bench/results"), { recursive: true });
  await writeFileAtomic(join(REPO, "bench/results/agent.json"), `${JSON.stringify(record, null, 2)}\n`);
  console.log(
    `  recorded in bench/results/agent.json: steady ${record.steadyRssMb} MB, peak ${record.peakRssMb} MB`,
  );
}

async function guestBench(dist: string, sync: boolean): Promise<void> {
  const node = plan(validateSpec(seedSpec())).nodes[0]!;
  const { runInGuest } = await import("../src/testbed/run.ts");
  const { result, bootMs } = await runInGuest({
    entry: resolve(import.meta.dirname, "agent.ts"),
    spec: seedSpec(),
    schema: GuestResultSchema,
    job: {
      starts: 5,
      sync,
      footprint: {
        main: join(dist, "cli/main.js"),
        dist,
        block: node.blocks.map((block) => block.cidr).join(","),
        nodeIp: node.ip,
        light: true,
      },
      programs: [
        { label: "dist/cli/main.js (as in the image)", main: join(dist, "cli/main.js") },
        { label: "src/cli/main.ts (as in the testbed)", main: join(REPO, "src/cli/main.ts") },
      ],
    } satisfies Omit<GuestJob, "specFile">,
    timeoutMs: 900_000,
  });
  if (result.error) throw new Error(`guest: ${result.error}`);
  console.log(`\nUser-Mode Linux guest (kernel ${result.kernel}, boot + run ${bootMs} ms)`);
  for (const start of result.starts) {
    console.log(`${start.label}:`);
    console.log(
      `  start → ready: ${start.readyMs.join(", ")} ms (median ${median(start.readyMs)} ms; target < 1000 ms)`,
    );
    const mb = start.rssKb.map((kb) => (kb / 1024).toFixed(1));
    console.log(
      `  RSS when ready: ${mb.join(", ")} MB (median ${median(start.rssKb.map((kb) => kb / 1024)).toFixed(1)} MB; target < 80 MB)`,
    );
  }
  if (result.footprint)
    printFootprint(result.footprint, "User-Mode Linux guest (ipvlan: reconciles succeed)");
  if (sync) printSync("User-Mode Linux guest", result.sync);
}

if (process.argv[2] === "--footprint") {
  const jobFile = process.argv[3]!;
  const job = await readJsonFile(jobFile, FootprintJobSchema);
  await writeFileAtomic(join(dirname(jobFile), "result.json"), `${JSON.stringify(await footprint(job))}\n`);
  process.exit(0);
} else if (process.argv[2] && !process.argv[2].startsWith("--")) await guest(process.argv[2]);
else await host(!process.argv.includes("--no-guest"), !process.argv.includes("--no-sync"));
