// Benchmark: the node agent's start in the testbed's guest (issue 19: start → ready < 3 s warm), where
// every Node start reads its modules through the guest's hostfs and one CPU is shared by everything.
// One boot on the seed's three nodes (seed profile: the agent then reconciles a node it has not set up
// yet, once; later rounds find it right). First what one program start costs there (`true`, the two
// ways into a namespace, Node's own start with and without --jitless); then `agent --once` (start →
// reconciled → exit; its own reconcile time from its summary) on one node alone, on the three nodes
// at once and on the three one after another, as the testbed starts it (guest/node-setup.ts) and with
// other Node flags and V8's compile cache on the guest's tmpfs (warm after the first round: the
// directory is kept). Rounds interleave the ways, so a change in the host's load touches each alike.
// Run: node bench/agent-start.ts [--rounds N]   (in the guest: node bench/agent-start.ts JOB)
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { loadSpec } from "../src/spec/load.ts";
import { run } from "../src/sys/exec.ts";
import { writeFileAtomic } from "../src/sys/atomic-write.ts";
import { readJsonFile } from "../src/testbed/job.ts";
import { guestCli } from "../src/testbed/bundle.ts";
import { Testbed } from "../src/testbed/guest/cluster.ts";
import { CNI_BIN_DIR, seedProfile } from "../src/testbed/guest/node-setup.ts";
import { netnsArgv } from "../src/testbed/guest/netns.ts";

const REPO = resolve(import.meta.dirname, "..");
const JobSchema = z.strictObject({ specFile: z.string(), rounds: z.number().int().positive() });
type Job = z.infer<typeof JobSchema>;

const Row = z.strictObject({
  label: z.string(),
  /** Wall time of each round (for "three at once": the last of the three to finish). */
  wallMs: z.array(z.number()),
  /** The agents' own reconcile time (summary durationMs), each agent of each round. */
  reconcileMs: z.array(z.number()),
});
type Row = z.infer<typeof Row>;
const ResultSchema = z.strictObject({ rows: z.array(Row), error: z.string().optional() });
type Result = z.infer<typeof ResultSchema>;
/** Node's flags and the environment of one way to start the agent. */
type Variant = [string[], Record<string, string>];

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

async function guest(jobFile: string): Promise<void> {
  const job = await readJsonFile(jobFile, JobSchema);
  const result: Result = { rows: [] };
  try {
    const spec = await loadSpec(job.specFile);
    const testbed = await Testbed.build(spec, seedProfile(spec), "/run/agent-start");
    const nodes = spec.nodes.map((node) => testbed.node(node.name));
    const timed = async (argv: string[], env: Record<string, string>) => {
      const started = performance.now();
      const { stdout } = await run(argv[0]!, argv.slice(1), { env: { ...process.env, ...env } });
      return { ms: performance.now() - started, stdout };
    };
    const agent = (node: (typeof nodes)[number], [flags, env]: Variant) =>
      // prettier-ignore
      timed(netnsArgv(node.ns, [
        process.execPath, ...flags, guestCli(), "agent", "--once",
        "--config", job.specFile, "--node", node.name, "--cni-conf-dir", node.dirs.confDir,
        "--cni-bin-dir", CNI_BIN_DIR, "--ipam-data-dir", node.dirs.ipamDataDir,
      ]), { AKS_IPVLAN_IPTABLES: "legacy", ...env });
    const reconcileMs = (stdout: string) => Number((JSON.parse(stdout) as { durationMs: number }).durationMs);

    // What one process costs in the guest, and what `ip netns exec` adds (a mount namespace and a
    // fresh sysfs per call) against nsenter's plain setns.
    const starts: Array<[string, string[]]> = [
      ["true", ["true"]],
      ["ip netns exec node1 true", ["ip", "netns", "exec", nodes[0]!.ns, "true"]],
      ["nsenter --net=/run/netns/node1 true", ["nsenter", `--net=/run/netns/${nodes[0]!.ns}`, "true"]],
      ["node -e 0", [process.execPath, "-e", "0"]],
      ["node --jitless -e 0", [process.execPath, "--jitless", "-e", "0"]],
    ];
    const startRows = starts.map(([label]) => ({ label, wallMs: [], reconcileMs: [] }) as Row);
    for (let i = 0; i < job.rounds * 3; i++)
      for (const [index, [, argv]] of starts.entries())
        startRows[index]!.wallMs.push((await timed(argv, {})).ms);
    result.rows.push(...startRows);
    const variants: Array<[string, Variant]> = [
      ["no flags", [[], {}]],
      ["--jitless (the testbed's)", [["--jitless", "--no-expose-wasm"], {}]],
      ["compile cache", [[], { NODE_COMPILE_CACHE: "/tmp/agent-start-cache" }]],
      [
        "--jitless + compile cache",
        [["--jitless", "--no-expose-wasm"], { NODE_COMPILE_CACHE: "/tmp/agent-start-cache-jitless" }],
      ],
    ];
    const rows = variants.map(([label]) => ({
      alone: { label: `${label}: one agent alone`, wallMs: [], reconcileMs: [] } as Row,
      three: { label: `${label}: three at once`, wallMs: [], reconcileMs: [] } as Row,
      serial: { label: `${label}: three one after another`, wallMs: [], reconcileMs: [] } as Row,
    }));
    for (let i = 0; i < job.rounds; i++) {
      for (const [index, [, variant]] of variants.entries()) {
        const { alone, three, serial } = rows[index]!;
        const { ms, stdout } = await agent(nodes[0]!, variant);
        alone.wallMs.push(ms);
        alone.reconcileMs.push(reconcileMs(stdout));
        let started = performance.now();
        const outs = await Promise.all(nodes.map((node) => agent(node, variant)));
        three.wallMs.push(performance.now() - started);
        three.reconcileMs.push(...outs.map((out) => reconcileMs(out.stdout)));
        started = performance.now();
        for (const node of nodes) serial.reconcileMs.push(reconcileMs((await agent(node, variant)).stdout));
        serial.wallMs.push(performance.now() - started);
      }
    }
    result.rows.push(...rows.flatMap((row) => [row.alone, row.three, row.serial]));
    await testbed.teardown();
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFileAtomic(join(dirname(jobFile), "result.json"), `${JSON.stringify(result)}\n`);
}

async function host(): Promise<void> {
  const index = process.argv.indexOf("--rounds");
  const rounds = index > 0 ? Number(process.argv[index + 1]) : 4;
  const { runInGuest } = await import("../src/testbed/run.ts");
  const spec = parse(await readFile(join(REPO, "examples/seed.yaml"), "utf8"));
  const run = await runInGuest({
    entry: import.meta.filename,
    spec,
    job: { rounds } satisfies Omit<Job, "specFile">,
    schema: ResultSchema,
    timeoutMs: 900_000,
  });
  console.log(
    `${run.runner} guest, kernel ${run.kernel}, boot ${run.bootMs} ms, bundling ${run.bundleMs} ms`,
  );
  console.log(
    "what (ms)                                           wall, each round → median   reconcile median",
  );
  for (const row of run.result.rows) {
    const walls = row.wallMs.map((ms) => Math.round(ms));
    console.log(
      `${row.label.padEnd(52)} ${walls.join(", ")} → ${median(walls)}   ${row.reconcileMs.length ? median(row.reconcileMs) : "-"}`,
    );
  }
  if (run.result.error) throw new Error(`guest: ${run.result.error}`);
}

if (process.argv[2] && !process.argv[2].startsWith("--")) await guest(process.argv[2]);
else await host();
