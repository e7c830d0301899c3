// Benchmark: the node agent. (1) One iptables sync with 1, 100 and 1,000 non-masquerade CIDRs against
// the seed's check-then-add per rule (`iptables -C … || iptables -A …`, one process each), on this
// host's kernel in a private network namespace (iptables-legacy). (2) In the testbed's User-Mode Linux
// guest: the agent's start → ready time and RSS, and the same sync comparison on that kernel.
// Targets (issue 4): ready < 1 s, RSS < 80 MB, 1,000 CIDRs < 200 ms with one process spawn.
// Run: node bench/agent.ts            (the same file is the guest's program: node bench/agent.ts JOB)
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

interface Program {
  /** e.g. "dist (as in the image)" */
  label: string;
  main: string;
}

interface GuestJob {
  specFile: string;
  programs: Program[];
  starts: number;
}

interface StartRun {
  label: string;
  readyMs: number[];
  rssKb: number[];
}

interface GuestResult {
  kernel: string;
  starts: StartRun[];
  sync: SyncRow[];
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
  const job = JSON.parse(await readFile(jobFile, "utf8")) as GuestJob;
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
        ], { stdio: "ignore" });
        const started = performance.now();
        for (;;) {
          // prettier-ignore
          const ready = await run("ip", [
            "netns", "exec", "node1", "busybox", "wget", "-qO-", "http://127.0.0.1:9464/readyz",
          ], { okCodes: [0, 1] });
          if (ready.code === 0) break;
          if (child.exitCode !== null) throw new Error(`the agent exited ${child.exitCode}`);
          if (performance.now() - started > 60_000) throw new Error("the agent never became ready");
        }
        starts.readyMs.push(Math.round(performance.now() - started));
        const status = await readFile(`/proc/${child.pid}/status`, "utf8");
        starts.rssKb.push(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]));
        const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
        child.kill("SIGTERM");
        await exited;
      }
      result.starts.push(starts);
    }
    result.sync = await withNetns("bench", syncBench);
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFileAtomic(join(dirname(jobFile), "result.json"), `${JSON.stringify(result)}\n`);
  process.exit(0);
}

// ---- host ----
async function host(): Promise<void> {
  const hostRows = await withNetns(`aks-ipvlan-bench-${process.pid}`, syncBench).catch((error: Error) => {
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
  const { runInGuest } = await import("../src/testbed/run.ts");
  const { result, bootMs } = await runInGuest({
    entry: resolve(import.meta.dirname, "agent.ts"),
    spec: seedSpec(),
    schema: GuestResultSchema,
    job: {
      starts: 5,
      programs: [
        { label: "dist/cli/main.js (as in the image)", main: join(dist, "cli/main.js") },
        { label: "src/cli/main.ts (as in the testbed)", main: join(REPO, "src/cli/main.ts") },
      ],
    },
    timeoutMs: 900_000,
  }).finally(() => rm(dist, { recursive: true, force: true }));
  if (result.error) throw new Error(`guest: ${result.error}`);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
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
  printSync("User-Mode Linux guest", result.sync);
}

if (process.argv[2]) await guest(process.argv[2]);
else await host();
