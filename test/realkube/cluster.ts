// A test's side of the shared real control plane (global-setup.ts): admin and service-account
// clients, service-account tokens minted by the TokenRequest API, the rendered RBAC applied as an
// admin would, and the real kubectl built with it.
import { inject } from "vitest";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { dirname, join } from "node:path";
import { connect, type KubeApi, type KubeObject } from "../../src/kube/client.ts";
import { run, type RunResult } from "../../src/sys/exec.ts";
import type { ControlPlaneAccess } from "./control-plane.ts";

export function realKube(): ControlPlaneAccess {
  const provided = inject("realKube");
  if ("unavailable" in provided)
    throw new Error(`the real control plane is not available: ${provided.unavailable}`);
  return provided;
}

function adminKubeConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(realKube().kubeconfig);
  return config;
}

export function adminApi(): KubeApi {
  return connect(adminKubeConfig());
}

/** A kubeconfig that authenticates with `token` only (what a pod's service account has). */
export function tokenKubeConfig(token: string): KubeConfig {
  const { url, ca } = realKube();
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "test", server: url, caData: Buffer.from(ca).toString("base64") }],
    users: [{ name: "sa", token }],
    contexts: [{ name: "test", cluster: "test", user: "sa" }],
    currentContext: "test",
  });
  return config;
}

/** A token for a service account, from the TokenRequest API as the kubelet gets one for a pod. */
export async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${namespace}/${name}`);
  return token;
}

const RBAC_KINDS = new Set([
  "Namespace",
  "ServiceAccount",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
]);

/** Applies the rendered Namespace, ServiceAccounts, Roles and bindings (nothing that runs). */
export async function applyRbac(api: KubeApi, manifests: readonly KubeObject[]): Promise<void> {
  for (const manifest of manifests)
    if (RBAC_KINDS.has(manifest.kind)) await api.apply(manifest, { force: true });
}

/** The kubectl built with the API server, over https; as the admin, or with a bearer token only. */
export function kubectl(args: string[], options: { token?: string } = {}): Promise<RunResult> {
  const { bin, kubeconfig, url } = realKube();
  // control-plane.ts writes the CA beside the admin kubeconfig.
  const ca = join(dirname(kubeconfig), "ca.crt");
  const identity = options.token
    ? [`--server=${url}`, `--token=${options.token}`, `--certificate-authority=${ca}`]
    : [`--kubeconfig=${kubeconfig}`];
  // With a token, no kubeconfig of the machine's may add its credentials (a file that is not there).
  const env = { ...process.env, KUBECONFIG: join(dirname(kubeconfig), "no-kubeconfig") };
  return run(join(bin, "kubectl"), [...identity, ...args], { env, okCodes: [0, 1] });
}
