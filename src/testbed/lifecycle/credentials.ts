// A workload's identity, as the kubelet hands it to a pod: a ServiceAccount token from the
// TokenRequest API (bound to the pod when there is one, so it dies with the pod), here written into a
// kubeconfig with the API's address and CA, which the product's programs read through KUBECONFIG.
import type { CoreV1Api } from "@kubernetes/client-node";
import { writeFileAtomic } from "../../sys/atomic-write.ts";

export async function serviceAccountKubeconfig(
  core: CoreV1Api,
  target: { url: string; caFile: string; file: string },
  account: { namespace: string; name: string; pod?: { name: string; uid: string } },
): Promise<string> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace: account.namespace,
    name: account.name,
    body: {
      spec: {
        audiences: [],
        expirationSeconds: 3600,
        ...(account.pod
          ? {
              boundObjectRef: { apiVersion: "v1", kind: "Pod", name: account.pod.name, uid: account.pod.uid },
            }
          : {}),
      },
    },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${account.namespace}/${account.name}`);
  await writeFileAtomic(
    target.file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "aks", cluster: { server: target.url, "certificate-authority": target.caFile } }],
      users: [{ name: account.name, user: { token } }],
      contexts: [{ name: "aks", context: { cluster: "aks", user: account.name } }],
      "current-context": "aks",
    }),
    0o600,
  );
  return target.file;
}
