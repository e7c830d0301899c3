// Opening the cluster a command talks to, from its --kubeconfig/--context flags.
import type { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig } from "./config.ts";
import { connect, type KubeApi } from "./client.ts";
import { apiPodExec, type PodExec } from "./exec.ts";

/** --kubeconfig/--context as the commands take them. */
export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
}

export interface Cluster {
  config: KubeConfig;
  api: KubeApi;
  exec: PodExec;
  /** The kube context, for reports. */
  name: string;
}

export function openCluster(flags: ClusterFlags): Cluster {
  const config = loadKubeConfig({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
  });
  return { config, api: connect(config), exec: apiPodExec(config), name: config.getCurrentContext() };
}
