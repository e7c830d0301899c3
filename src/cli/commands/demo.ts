// `aks-ipvlan demo`: boots the emulated AKS on a real kernel (the runner: the host's own, User-Mode
// Linux or QEMU; auto picks the first that can boot here), builds the cluster from the spec with the
// real node agent and CNI plugins, runs the verification suite and prints one row per check; with
// --seed, also the seed's configuration as written, side by side. Then NetworkPolicy: `verify
// --policies`'s cases enforced by the agent's enforcer on every node, one summary row per case group.
// Exits 0 only if every check passes and no policy cell disagrees with the reference evaluator.
import type { Command } from "commander";
import { extname, resolve } from "node:path";
import { UserError } from "../../errors/user-error.ts";
import { RunnerChoice } from "../../testbed/runners/runner.ts";
import { wrongCellLines, type PolicyCaseResult } from "../../verify/policy-suite.ts";
import { formatTable } from "../output.ts";

const DEFAULT_CONFIG = resolve(import.meta.dirname, "../../../examples/seed.yaml");
// main.ts beside the sources (a clone), main.js in dist/ (the installed package).
const GUEST_ENTRY = resolve(import.meta.dirname, `../../testbed/guest/main${extname(import.meta.filename)}`);
const TIMEOUT_MS = 15 * 60_000;

interface Flags {
  config: string;
  nodes?: string;
  json?: boolean;
  seed?: boolean;
  policies: boolean;
  runner: string;
  lifecycle?: boolean;
}

export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "prove the pod network on an emulated AKS cluster (a real Linux kernel: native, UML or QEMU)",
    )
    .option("--config <file>", "cluster spec", DEFAULT_CONFIG)
    .option("--nodes <n>", "use n generated nodes (node1..n at the node subnet's .4 upwards)")
    .option("--json", "print the full results, with each check's evidence, as JSON")
    .option("--seed", "also run the suite against the seed's configuration as written")
    .option("--no-policies", "skip the NetworkPolicy cases after the checks")
    .option("--runner <runner>", `where the kernel comes from: ${RunnerChoice.options.join("|")}`, "auto")
    .option("--lifecycle", "install, join, policy and uninstall against a real API server in the guest")
    .action(async (flags: Flags) => {
      const runner = parseRunner(flags.runner);
      if (flags.lifecycle) {
        const { runLifecycleDemo } = await import("./demo-lifecycle.ts");
        return runLifecycleDemo({ runner, ...(flags.json ? { json: true } : {}) });
      }
      const [
        { loadSpec },
        { withNodes },
        { runInGuest },
        { bootShowingGuest },
        { SuiteResultSchema },
        report,
      ] = await Promise.all([
        import("../../spec/load.ts"),
        import("../../testbed/generate.ts"),
        import("../../testbed/run.ts"),
        import("./demo-boot.ts"),
        import("../../testbed/job.ts"),
        import("../check-report.ts"),
      ]);
      let spec = await loadSpec(flags.config);
      if (flags.nodes !== undefined) spec = withNodes(spec, parseCount(flags.nodes));
      const started = performance.now();
      const run = await bootShowingGuest((onLine) =>
        runInGuest({
          entry: GUEST_ENTRY,
          spec,
          job: {
            profiles: flags.seed ? ["product", "seed"] : ["product"],
            controls: false,
            policies: flags.policies,
          },
          schema: SuiteResultSchema,
          timeoutMs: TIMEOUT_MS,
          runner,
          onLine,
        }),
      );
      if (!run) return;
      const { result } = run;
      const totalSeconds = seconds(performance.now() - started);
      const product = result.profiles.find((profile) => profile.profile === "product");
      const policies = result.policies ?? [];
      const policyWrong = policies.reduce((sum, c) => sum + c.wrong.length, 0);
      const passed =
        !result.error && product !== undefined && report.allPassed(product.results) && policyWrong === 0;
      const runnerInfo = {
        name: run.runner,
        kernel: run.kernel,
        bootMs: run.bootMs,
        firstCheckMs: run.firstCheckMs ?? null,
        passedOver: run.passedOver,
      };
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ ...result, runner: runnerInfo, passed, seconds: Number(totalSeconds) }, null, 2)}\n`,
        );
      } else {
        const columns = result.profiles.map((profile) => ({
          label: profile.profile === "product" ? "aks-ipvlan" : "seed as written",
          results: profile.results,
        }));
        const firstCheck =
          run.firstCheckMs === undefined ? "" : `, first check at ${seconds(run.firstCheckMs)} s`;
        const lines = [
          report.formatChecks(columns),
          "",
          ...columns.flatMap(report.failureLines),
          ...(policies.length > 0 ? [policySummary(policies), ""] : []),
          ...(result.error ? [`testbed error: ${result.error}`] : []),
          ...run.passedOver.map((refusal) => `runner ${refusal.runner} passed over: ${refusal.reason}`),
          `runner ${run.runner}, kernel ${run.kernel}, booted in ${seconds(run.bootMs)} s${firstCheck}`,
          `${spec.nodes.length} nodes, ${totalSeconds} s in all: ${passed ? "every check passed" : "FAILED"}`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }
      process.exitCode = passed ? 0 : 1;
    });
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** One row per case group: its cases, their cells (pod × pod × port; on one node / across) and the wrong ones. */
function policySummary(policies: readonly PolicyCaseResult[]): string {
  const groups = [...new Set(policies.map((c) => c.group))];
  const rows = groups.map((group) => {
    const cases = policies.filter((c) => c.group === group);
    const sum = (count: (c: PolicyCaseResult) => number) => cases.reduce((total, c) => total + count(c), 0);
    const wrong = sum((c) => c.wrong.length);
    return [
      `NetworkPolicy: ${group}`,
      cases.length,
      `${sum((c) => c.cells)} (${sum((c) => c.sameNode)} same node, ${sum((c) => c.crossNode)} across)`,
      wrong === 0 ? "pass 0" : `FAIL ${wrong}`,
    ];
  });
  return [
    formatTable(["policy case group", "cases", "cells", "wrong"], rows).trimEnd(),
    ...wrongCellLines(policies),
  ].join("\n");
}

function parseRunner(text: string): RunnerChoice {
  const parsed = RunnerChoice.safeParse(text);
  if (!parsed.success) {
    const fix = `pass one of ${RunnerChoice.options.join(", ")}`;
    throw new UserError([{ path: "--runner", value: text, message: "not a runner", fix }]);
  }
  return parsed.data;
}

function parseCount(text: string): number {
  const count = Number(text);
  if (!/^\d+$/.test(text)) {
    throw new UserError([
      { path: "--nodes", value: text, message: "not a whole number", fix: "pass e.g. --nodes 5" },
    ]);
  }
  return count;
}
