// Where every command finds its cluster: --kubeconfig, --context and KUBECONFIG, as kubectl does;
// inside a pod, the service account.
import { KubeConfig } from "@kubernetes/client-node";
import { UserError } from "../errors/user-error.ts";

export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
}

export function loadKubeConfig(target: KubeTarget = {}): KubeConfig {
  const config = new KubeConfig();
  if (target.kubeconfig) config.loadFromFile(target.kubeconfig);
  else config.loadFromDefault();
  if (target.context) {
    if (!config.getContextObject(target.context)) {
      throw new UserError([
        {
          path: "--context",
          value: target.context,
          message: "no such context in the kubeconfig",
          fix: `use one of: ${
            config
              .getContexts()
              .map((c) => c.name)
              .join(", ") || "(none)"
          }`,
        },
      ]);
    }
    config.setCurrentContext(target.context);
  }
  if (!config.getCurrentCluster()) {
    throw new UserError([
      {
        path: "--kubeconfig",
        value: target.kubeconfig ?? process.env.KUBECONFIG ?? "~/.kube/config",
        message: "no cluster found in the kubeconfig",
        fix: "pass --kubeconfig FILE or set KUBECONFIG (az aks get-credentials writes one)",
      },
    ]);
  }
  return config;
}
