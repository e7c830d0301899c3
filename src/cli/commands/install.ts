// `aks-ipvlan install`: server-side apply of the rendered manifests, wait for the agent on every node,
// restart CoreDNS if it is not Ready; prints what changed. `--dry-run` asks the server what would change.
import type { Command } from "commander";
import type { KubeApi, KubeObject } from "../../kube/client.ts";
import type { Progress } from "../../kube/wait.ts";
import { parseSeconds, runCommand, withClusterOptions } from "../command.ts";
import type { ClusterFlags } from "../../kube/cluster.ts";

interface Flags extends ClusterFlags {
  config: string;
  dryRun?: boolean;
  timeout: string;
}

export function register(program: Command): void {
  withClusterOptions(
    program
      .command("install")
      .description("install or update aks-ipvlan in the cluster (server-side apply; safe to rerun)")
      .requiredOption("--config <file>", "cluster spec")
      .option("--dry-run", "ask the API server what would change (dryRun=All); change nothing")
      .option("--timeout <seconds>", "how long each wait may take", "300"),
  ).action((flags: Flags) => runCommand(() => installCommand(flags)));
}

async function installCommand(flags: Flags): Promise<number> {
  const [{ install }, { installText }] = await Promise.all([
    import("../../kube/install.ts"),
    import("../report.ts"),
  ]);
  const { api, objects, options } = await installation(flags);
  const dryRun = Boolean(flags.dryRun);
  process.stdout.write(installText(await install(api, objects, { ...options, dryRun }), dryRun));
  return 0;
}

/** What install and uninstall both start from: the cluster, the rendered objects, wait options. */
export async function installation(flags: ClusterFlags & { config: string; timeout: string }): Promise<{
  api: KubeApi;
  objects: KubeObject[];
  options: { timeoutMs: number; progress: (label: string) => Progress };
}> {
  const timeoutMs = parseSeconds("--timeout", flags.timeout);
  const [{ loadSpec }, { renderManifests }, { openCluster }, { startProgress }] = await Promise.all([
    import("../../spec/load.ts"),
    import("../../manifests/render.ts"),
    import("../../kube/cluster.ts"),
    import("../progress.ts"),
  ]);
  const spec = await loadSpec(flags.config);
  return {
    api: openCluster(flags).api,
    objects: renderManifests(spec) as KubeObject[],
    options: { timeoutMs, progress: (label) => startProgress(process.stderr, label) },
  };
}
