// How the emulated kubelet runs the product's own pods (the agent DaemonSet's, and uninstall's
// cleanup pods): there are no container images in the guest, so a container whose command is the
// image's CLI runs the guest's CLI instead, in the node's namespace (hostNetwork), with the pod's
// arguments and environment. Mounts become the node's paths: the spec ConfigMap's file, and the
// agent's hostPath directories as its own flags (--cni-conf-dir, --ipam-data-dir, ...).
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { CONFIG_PATH } from "../../manifests/names.ts";

/** The image's CLI (Dockerfile: node /app/dist/cli/main.js). */
const IMAGE_CLI = ["node", "/app/dist/cli/main.js"];

export interface NodePaths {
  confDir: string;
  ipamDataDir: string;
  cniBinDir: string;
}

/** The pod's one container when it runs the product's CLI, else undefined (a workload pod). */
export function productContainer(pod: V1Pod): V1Container | undefined {
  const containers = pod.spec?.containers ?? [];
  const [container] = containers;
  const isProduct =
    containers.length === 1 &&
    pod.spec?.hostNetwork === true &&
    JSON.stringify(container?.command) === JSON.stringify(IMAGE_CLI);
  return isProduct ? container : undefined;
}

/** The argv and environment of the container's process on the emulated node. */
export function productProcess(
  pod: V1Pod,
  container: V1Container,
  node: { name: string; paths: NodePaths },
  files: { cli: string; node: string; spec: string; kubeconfig: string },
): { argv: string[]; env: Record<string, string> } {
  const args = (container.args ?? []).map((arg) => (arg === CONFIG_PATH ? files.spec : arg));
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (field === "spec.nodeName") env[variable.name] = node.name;
    else if (field === "metadata.name") env[variable.name] = pod.metadata?.name ?? "";
    else if (field === "metadata.namespace") env[variable.name] = pod.metadata?.namespace ?? "";
    else throw new Error(`env ${variable.name} of ${container.name}: the node emulator cannot resolve it`);
  }
  // The agent's hostPath mounts, as the node's directories (the controller mounts only its spec).
  // prettier-ignore
  const hostPaths = args[0] === "agent" ? [
    "--cni-conf-dir", node.paths.confDir, "--cni-bin-dir", node.paths.cniBinDir,
    "--ipam-data-dir", node.paths.ipamDataDir,
  ] : [];
  const argv = [files.node, files.cli, ...args, ...hostPaths];
  return { argv, env: { ...env, KUBECONFIG: files.kubeconfig, AKS_IPVLAN_IPTABLES: "legacy" } };
}
