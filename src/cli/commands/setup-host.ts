// `aks-ipvlan setup-host`: prepares this machine for the demo (and the e2e tests and benches of a
// clone) by running the package's own scripts/setup-host.sh, the one implementation that `npm run demo`
// also runs: the Debian packages the guest uses, User-Mode Linux and its XSAVE fix, and with
// `--runner qemu` QEMU and its kernel. Shipped in the package, so an installed aks-ipvlan can run it.
import { Option, type Command } from "commander";
import { resolve } from "node:path";
import { RunnerChoice } from "../../testbed/runners/runner.ts";

/** The package root: two folders above this module, from src/cli/commands and dist/cli/commands alike. */
const SCRIPT = resolve(import.meta.dirname, "../../../scripts/setup-host.sh");

export function register(program: Command): void {
  program
    .command("setup-host")
    .description(
      "install what the demo needs on this Debian machine (as root): UML, CNI plugins, iptables, ...",
    )
    .addOption(
      new Option("--runner <runner>", "also prepare this runner (qemu: QEMU and a kernel, about 500 MB)")
        .choices(RunnerChoice.options)
        .default("auto"),
    )
    .action(async (flags: { runner: RunnerChoice }) => {
      const { run } = await import("../../sys/exec.ts");
      const result = await run("bash", [SCRIPT, "--runner", flags.runner]);
      process.stderr.write(result.stderr);
      process.stdout.write(`setup-host: this host is ready for the ${flags.runner} runner\n`);
    });
}
