// Runner benchmark (not part of npm test): the demo's run (the seed's 3 nodes, the product's suite) on
// every kernel runner this machine offers, one after the other in the same invocation: boot (runner
// start → init ready), boot to first check, and the whole run. A runner the machine cannot offer is
// listed with its refusal. AKS_IPVLAN_RUNNER=<name> limits it to that runner.
import { resolve } from "node:path";
import { loadSpec } from "../src/spec/load.ts";
import { SuiteResultSchema } from "../src/testbed/job.ts";
import { runInGuest, runnerFromEnvironment } from "../src/testbed/run.ts";
import { RUNNERS } from "../src/testbed/runners/auto.ts";
import { RUNNER_NAMES } from "../src/testbed/runners/runner.ts";

const spec = await loadSpec(resolve(import.meta.dirname, "../examples/seed.yaml"));
const choice = runnerFromEnvironment();
const names = choice === "auto" ? RUNNER_NAMES : [choice];
const seconds = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);
const rows: string[] = [];
for (const name of names) {
  const refusal = await RUNNERS[name].refusal();
  if (refusal !== undefined) {
    rows.push(`${name.padEnd(7)} not offered: ${refusal}`);
    continue;
  }
  process.stderr.write(`bench: demo run on ${name}\n`);
  const run = await runInGuest({
    entry: resolve(import.meta.dirname, "../src/testbed/guest/main.ts"),
    spec,
    job: { profiles: ["product"], controls: false },
    schema: SuiteResultSchema,
    runner: name,
    timeoutMs: 20 * 60_000,
  });
  const results = run.result.profiles[0]?.results ?? [];
  const failed = results.filter((check) => check.status === "fail").map((check) => check.id);
  const verdict = run.result.error
    ? `error: ${run.result.error}`
    : failed.length
      ? `failed ${failed.join(", ")}`
      : "every check passed";
  rows.push(
    `${name.padEnd(7)} kernel ${run.kernel.padEnd(16)} boot ${seconds(run.bootMs).padStart(7)}   boot→first check ${seconds(run.firstCheckMs).padStart(7)}   in all ${seconds(run.totalMs).padStart(7)}   ${verdict}`,
  );
}
console.log([`demo run (${spec.nodes.length} nodes of examples/seed.yaml) per runner:`, ...rows].join("\n"));
