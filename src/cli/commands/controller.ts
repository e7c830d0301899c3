// `aks-ipvlan controller`: allocates node blocks and, in routing.mode vnet, manages the Azure route
// table (leader-elected). The controller's modules load only when this command runs (the Azure SDK only
// in vnet mode).
import type { Command } from "commander";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { parseListenFlag } from "../command.ts";

interface ControllerFlags {
  config: string;
  kubeconfig?: string;
  context?: string;
  dryRun?: boolean;
  enableIpForwarding?: boolean;
  listen: string;
}

export function register(program: Command): void {
  program
    .command("controller")
    .description(
      "give every node a block; in vnet mode keep the Azure route table and node NICs in line (one active replica)",
    )
    .requiredOption("--config <file>", "cluster spec YAML")
    .option(
      "--kubeconfig <file>",
      "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the service account)",
    )
    .option("--context <name>", "kubeconfig context")
    .option("--dry-run", "print the node annotations and `az` route commands it would run, change nothing")
    .option("--enable-ip-forwarding", "turn IP forwarding on for standalone VM NICs that lack it")
    .option("--listen <addr>", "metrics and health address", parseListenFlag, "127.0.0.1:9465")
    .action(async (flags: ControllerFlags) => {
      const [{ loadSpec }, { loadKubeConfig }, { connect }] = await Promise.all([
        import("../../spec/load.ts"),
        import("../../kube/config.ts"),
        import("../../kube/client.ts"),
      ]);
      const spec = await loadSpec(flags.config);
      if (flags.enableIpForwarding && spec.routing.mode !== "vnet") {
        const { UserError } = await import("../../errors/user-error.ts");
        throw new UserError([
          {
            path: "--enable-ip-forwarding",
            value: spec.routing.mode,
            message: `routing.mode ${spec.routing.mode} makes no Azure call: no NIC needs IP forwarding`,
            fix: "leave the flag out, or use routing.mode: vnet",
          },
        ]);
      }
      const api = connect(loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context }));
      const run = await import("../../controller/run.ts");
      if (flags.dryRun) {
        process.stdout.write(await run.dryRun(spec, api, {}, process.env.POD_NAMESPACE));
        return;
      }
      const [{ createLogger }, { ControllerMetrics, serveMetrics }] = await Promise.all([
        import("../../sys/log.ts"),
        import("../../controller/metrics.ts"),
      ]);
      const metrics = new ControllerMetrics();
      const server = await serveMetrics(metrics, flags.listen);
      const { stopSignal } = await import("../../sys/signals.ts");
      const stop = stopSignal();
      const identity = process.env.POD_NAME ?? `${hostname()}_${randomBytes(4).toString("hex")}`;
      await run.runController(
        {
          spec,
          api,
          log: createLogger({ component: "controller" }),
          metrics,
          identity,
          ...(process.env.POD_NAMESPACE ? { namespace: process.env.POD_NAMESPACE } : {}),
          ...(flags.enableIpForwarding ? { enableIpForwarding: true } : {}),
        },
        stop,
      );
      server.close();
    });
}
