// A test's side of the shared real control plane (global-setup.ts): admin and service-account
// clients, service-account tokens minted by the TokenRequest API, the rendered RBAC applied as an
// admin would, and the real kubectl built with it.
import { inject } from "vitest";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { dirname, join } from "node:path";
import { connect, type KubeApi, type KubeObject } from "../../src/kube/client.ts";
import { run, type RunResult } from "../../src/sys/exec.ts";
import type { ControlPlaneAccess } from "./control-plane.ts";
import { NAMESPACE } from "../../src/manifests/names.ts";

export function realKube(): ControlPlaneAccess {
  const provided = inject("realKube");
  if ("unavailable" in provided)
    throw new Error(`the real control plane is not available: ${provided.unavailable}`);
  return provided;
}

export function adminKubeConfig(): KubeConfig {
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

/**
 * The rendered ServiceAccount, ClusterRole and Role of `component` (the agent or the controller),
 * applied under names of this test's own (`<component>-<id>`) with their bindings, so tests running
 * beside each other on the shared API server never change each other's permissions. `rules` may edit
 * the Role's rules (a negative control). Returns the ServiceAccount's name.
 */
export async function bindRenderedRbac(
  api: KubeApi,
  manifests: readonly KubeObject[],
  component: string,
  id: string,
  rules: (rules: RbacRule[]) => RbacRule[] = (same) => same,
): Promise<string> {
  const name = `${component}-${id}`;
  const namespace = NAMESPACE;
  const subjects = [{ kind: "ServiceAccount", name, namespace }];
  await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }, { force: true });
  await api.apply(
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
    { force: true },
  );
  for (const role of manifests.filter(
    (m) => /^(Cluster)?Role$/.test(m.kind) && m.metadata.name === component,
  )) {
    const scoped = role.kind === "Role";
    const metadata = scoped ? { name, namespace } : { name };
    const roleRules = role.rules as RbacRule[];
    await api.apply({ ...role, metadata, rules: scoped ? rules(roleRules) : roleRules }, { force: true });
    await api.apply(
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: scoped ? "RoleBinding" : "ClusterRoleBinding",
        metadata,
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: role.kind, name },
        subjects,
      },
      { force: true },
    );
  }
  return name;
}

export interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
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
