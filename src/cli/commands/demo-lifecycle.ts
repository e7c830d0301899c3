// `aks-ipvlan demo --lifecycle`: the product's lifecycle on the emulated AKS, against a real
// kube-apiserver inside the guest (src/testbed/lifecycle): install, a node joining after install,
// pods and a NetworkPolicy through the API, uninstall leaving every node as it was. Prints each step
// with its time, the probes, the programs' memory and what failed; exits 0 only if nothing did.
import type { RunnerChoice } from "../../testbed/runners/runner.ts";
import { formatTable } from "../output.ts";

const TIMEOUT_MS = 20 * 60_000;

export async function runLifecycleDemo(flags: { runner: RunnerChoice; json?: boolean }): Promise<void> {
  const [{ runLifecycleInGuest, lifecycleProblems }, { bootShowingGuest }] = await Promise.all([
    import("../../testbed/lifecycle/host.ts"),
    import("./demo-boot.ts"),
  ]);
  const run = await bootShowingGuest((onLine) =>
    runLifecycleInGuest({ runner: flags.runner, timeoutMs: TIMEOUT_MS, onLine }),
  );
  if (!run) return;
  const { result } = run;
  const problems = lifecycleProblems(result);
  if (flags.json) {
    const runner = { name: run.runner, kernel: run.kernel, bootMs: run.bootMs };
    process.stdout.write(`${JSON.stringify({ ...result, runner, problems }, null, 2)}\n`);
  } else {
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const wrong = result.probes.filter((probe) => probe.got !== probe.expected).length;
    const lines = [
      formatTable(
        ["step", "time", ""],
        result.steps.map((step) => [step.name, seconds(step.ms), step.detail]),
      ).trimEnd(),
      "",
      `NetworkPolicy probes: ${result.probes.length} (${result.probes.filter((p) => p.expected === "denied").length} to deny), ${wrong} wrong`,
      `blocks: ${Object.entries(result.blocks)
        .map(([node, blocks]) => `${node} ${blocks.join(" ")}`)
        .join(", ")}`,
      `memory (MB): ${Object.entries(result.memoryMiB)
        .map(([name, mib]) => `${name} ${mib}`)
        .join(", ")}`,
      ...problems.map((problem) => `FAIL ${problem}`),
      `runner ${run.runner}, kernel ${run.kernel}, booted in ${seconds(run.bootMs)}, ${seconds(run.totalMs)} in all: ${problems.length === 0 ? "every step passed" : "FAILED"}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  process.exitCode = problems.length === 0 ? 0 : 1;
}
