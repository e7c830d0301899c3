// `aks-ipvlan install-cni`: the agent DaemonSet's init container copies missing CNI plugins to the node.
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("install-cni")
    .description("copy each CNI plugin the conflist needs to the node's CNI bin dir, only where missing")
    .requiredOption("--from <dir>", "plugins shipped in the image")
    .requiredOption("--to <dir>", "the node's CNI bin dir, mounted from the host")
    .action(async (flags: { from: string; to: string }) => {
      const { installCni } = await import("../../agent/install-cni.ts");
      for (const { plugin, action } of await installCni(flags.from, flags.to)) {
        process.stdout.write(
          `${action === "installed" ? "installed" : "already present"}: ${flags.to}/${plugin}\n`,
        );
      }
    });
}
