// `aks-ipvlan uninstall`: stops the agent, runs its cleanup once on every node, deletes our objects and
// says what it removed. Exit 1 when a node could not be cleaned (rerun once it is Ready).
import type { Command } from "commander";
import { EXIT_FAILED, EXIT_OK, runCommand, withClusterOptions } from "../command.ts";
import type { ClusterFlags } from "../../kube/cluster.ts";
import { installation } from "./install.ts";

interface Flags extends ClusterFlags {
  config: string;
  timeout: string;
}

export function register(program: Command): void {
  withClusterOptions(
    program
      .command("uninstall")
      .description("clean every node, then delete everything install created")
      .requiredOption("--config <file>", "the cluster spec install was given")
      .option("--timeout <seconds>", "how long each wait may take", "300"),
  ).action((flags: Flags) => runCommand(() => uninstallCommand(flags)));
}

async function uninstallCommand(flags: Flags): Promise<number> {
  const [{ uninstall }, { uninstallText }] = await Promise.all([
    import("../../kube/uninstall.ts"),
    import("../report.ts"),
  ]);
  const { api, objects, options } = await installation(flags);
  const report = await uninstall(api, objects, options);
  process.stdout.write(uninstallText(report));
  return report.cleanup.every((node) => node.outcome === "cleaned") ? EXIT_OK : EXIT_FAILED;
}
