// `aks-ipvlan agent`: the node agent (DaemonSet process). --once reconciles and prints a JSON summary;
// --cleanup removes what the agent created; otherwise it keeps the node right until SIGTERM.
import type { Command } from "commander";
import { UserError } from "../../errors/user-error.ts";
import { parseListenFlag } from "../command.ts";
import { RESYNC_SECONDS } from "../../spec/limits.ts";
import { DEFAULT_PATHS } from "../../agent/desired.ts";
import type { AgentOptions } from "../../agent/context.ts";

interface Flags {
  config?: string;
  node?: string;
  once?: boolean;
  cleanup?: boolean;
  cniConfDir: string;
  cniBinDir: string;
  ipamDataDir: string;
  listen?: string;
  resync?: string;
  kube?: boolean;
  livePods?: string;
}

export function register(program: Command): void {
  program
    .command("agent")
    .description("keep this node's CNI config, iptables rules, sysctls and host device right")
    .option("--config <file>", "cluster spec (the mounted ConfigMap file); not needed with --cleanup")
    .option("--node <name>", "this node's name (default: env NODE_NAME)")
    .option("--once", "reconcile once, print a JSON summary and exit")
    .option("--cleanup", "remove the conflist, our chains and jumps, the host device and its routes")
    .option("--cni-conf-dir <dir>", "CNI config directory", DEFAULT_PATHS.cniConfDir)
    .option("--cni-bin-dir <dir>", "CNI plugin directory", DEFAULT_PATHS.cniBinDir)
    .option("--ipam-data-dir <dir>", "host-local data directory", DEFAULT_PATHS.ipamDataDir)
    .option(
      "--listen <addr>",
      "health, metrics and status address (default: spec.agent.listenAddress)",
      parseListenFlag,
    )
    .option("--resync <seconds>", "full reconcile interval (default: spec.agent.resyncSeconds)")
    .option(
      "--kube",
      "read the node's blocks from its Node annotation (default when KUBERNETES_SERVICE_HOST is set)",
    )
    .option(
      "--live-pods <file>",
      "without --kube: file of this node's live pod IPs, one per line (enables leak GC)",
    )
    .action(async (flags: Flags) => {
      if (flags.cleanup && flags.once) {
        throw new UserError([
          {
            path: "--cleanup",
            message: "--once and --cleanup contradict each other: one reconciles, the other removes",
            fix: "pass --cleanup alone to remove, or --once alone to reconcile once",
          },
        ]);
      }
      if (flags.cleanup) {
        const [{ cleanup }, { run }] = await Promise.all([
          import("../../agent/cleanup.ts"),
          import("../../sys/exec.ts"),
        ]);
        const removed = await cleanup(flags.cniConfDir, run);
        const node = flags.node ?? process.env.NODE_NAME;
        process.stdout.write(`${JSON.stringify({ ...(node ? { node } : {}), removed }, null, 2)}\n`);
        return;
      }
      const options = agentOptions(flags);
      if (flags.once) {
        const { reconcileOnce } = await import("../../agent/once.ts");
        const { summary, ok } = await reconcileOnce(options);
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        process.exitCode = ok ? 0 : 1;
        return;
      }
      const { serve } = await import("../../agent/serve.ts");
      await serve(options);
    });
}

function agentOptions(flags: Flags): AgentOptions {
  if (!flags.config) {
    throw new UserError([
      {
        path: "--config",
        message: "no cluster spec",
        fix: "pass --config FILE (the DaemonSet mounts the spec ConfigMap); only --cleanup works without one",
      },
    ]);
  }
  const node = flags.node ?? process.env.NODE_NAME;
  if (!node) {
    throw new UserError([
      {
        path: "--node",
        message: "no node name",
        fix: "pass --node NAME, or set NODE_NAME (the DaemonSet sets it from spec.nodeName)",
      },
    ]);
  }
  let resyncSeconds: number | undefined;
  if (flags.resync !== undefined) {
    // The spec's agent.resyncSeconds range: whole seconds Node's timers hold (no overflow to 1 ms).
    resyncSeconds = Number(flags.resync);
    if (
      !Number.isInteger(resyncSeconds) ||
      resyncSeconds < RESYNC_SECONDS.min ||
      resyncSeconds > RESYNC_SECONDS.max
    ) {
      throw new UserError([
        {
          path: "--resync",
          value: flags.resync,
          message: `not a whole number of seconds from ${RESYNC_SECONDS.min} to ${RESYNC_SECONDS.max}`,
          fix: "pass seconds, e.g. --resync 10",
        },
      ]);
    }
  }
  return {
    config: flags.config,
    node,
    paths: { cniConfDir: flags.cniConfDir, cniBinDir: flags.cniBinDir, ipamDataDir: flags.ipamDataDir },
    kube: flags.kube ?? Boolean(process.env.KUBERNETES_SERVICE_HOST),
    ...(flags.livePods ? { livePodsFile: flags.livePods } : {}),
    ...(flags.listen ? { listen: flags.listen } : {}),
    ...(resyncSeconds ? { resyncSeconds } : {}),
  };
}
