// `aks-ipvlan demo`: boots the emulated AKS (User-Mode Linux), builds the cluster from the spec with
// the real node agent and CNI plugins, runs the verification suite and prints one row per check; with
// --seed, also the seed's configuration as written, side by side. Exits 0 only if every check passes.
import type { Command } from "commander";
import { resolve } from "node:path";
import { UserError } from "../../errors/user-error.ts";
import type { SuiteResult } from "../../testbed/job.ts";

const DEFAULT_CONFIG = resolve(import.meta.dirname, "../../../examples/seed.yaml");
const GUEST_ENTRY = resolve(import.meta.dirname, "../../testbed/guest/main.ts");
const TIMEOUT_MS = 15 * 60_000;

interface Flags {
  config: string;
  nodes?: string;
  json?: boolean;
  seed?: boolean;
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("prove the pod network on an emulated AKS cluster (a real Linux kernel in User-Mode Linux)")
    .option("--config <file>", "cluster spec", DEFAULT_CONFIG)
    .option("--nodes <n>", "use n generated nodes (node1..n at the node subnet's .4 upwards)")
    .option("--json", "print the full results, with each check's evidence, as JSON")
    .option("--seed", "also run the suite against the seed's configuration as written")
    .action(async (flags: Flags) => {
      const [{ loadSpec }, { withNodes }, { runInGuest }, report] = await Promise.all([
        import("../../spec/load.ts"),
        import("../../testbed/generate.ts"),
        import("../../testbed/run.ts"),
        import("../../verify/report.ts"),
      ]);
      let spec = await loadSpec(flags.config);
      if (flags.nodes !== undefined) spec = withNodes(spec, parseCount(flags.nodes));
      const started = performance.now();
      const { result } = await runInGuest<object, SuiteResult>({
        entry: GUEST_ENTRY,
        spec,
        job: { profiles: flags.seed ? ["product", "seed"] : ["product"], controls: false },
        timeoutMs: TIMEOUT_MS,
        onLine: (line) => {
          if (line.startsWith("testbed: ")) process.stderr.write(`${line}\n`);
        },
      });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const product = result.profiles.find((run) => run.profile === "product");
      const passed = !result.error && product !== undefined && report.allPassed(product.results);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...result, passed, seconds: Number(seconds) }, null, 2)}\n`);
      } else {
        const columns = result.profiles.map((run) => ({
          label: run.profile === "product" ? "aks-ipvlan" : "seed as written",
          results: run.results,
        }));
        const lines = [
          report.formatTable(columns),
          "",
          ...columns.flatMap(report.failureLines),
          ...(result.error ? [`testbed error: ${result.error}`] : []),
          `${spec.nodes.length} nodes, kernel ${result.kernel}, ${seconds} s in all: ${passed ? "every check passed" : "FAILED"}`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }
      process.exitCode = passed ? 0 : 1;
    });
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
