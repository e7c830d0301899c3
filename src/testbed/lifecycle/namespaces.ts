// The namespace and service-account controllers' parts the scenario needs: every namespace gets its
// `default` ServiceAccount (pods that name none run as it, and admission refuses them without it);
// uninstall deletes our namespace and waits for it to go: a terminating namespace's remaining objects of the kinds our programs leave (pods, the
// controller's ledger ConfigMap and Lease, Events, ServiceAccounts) are deleted, and once no pod is
// left, the namespace's "kubernetes" finalizer is removed, which lets the API server delete it.
import type { CoreV1Api } from "@kubernetes/client-node";
import type { KubeApi } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { Coalescer } from "../../sys/coalesce.ts";

const CONTENT: ReadonlyArray<[string, string]> = [
  ["v1", "Pod"],
  ["v1", "ConfigMap"],
  ["v1", "ServiceAccount"],
  ["v1", "Event"],
  ["coordination.k8s.io/v1", "Lease"],
];

export async function runNamespaces(
  api: KubeApi,
  core: CoreV1Api,
  signal: AbortSignal,
  onError: (error: unknown) => void,
): Promise<void> {
  const sync = new Coalescer(async () => {
    for (const namespace of informer.objects.values()) {
      const name = namespace.metadata.name;
      if ((namespace.metadata as { deletionTimestamp?: string }).deletionTimestamp === undefined) {
        const account = { apiVersion: "v1", kind: "ServiceAccount", name: "default", namespace: name };
        if (!(await api.get(account)))
          await api.create({
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name: "default", namespace: name },
          });
        continue;
      }
      let pods = 0;
      for (const [apiVersion, kind] of CONTENT) {
        const { items } = await api.list(apiVersion, kind, { namespace: name });
        if (kind === "Pod") pods = items.length;
        for (const item of items)
          await api.delete({ apiVersion, kind, name: item.metadata.name, namespace: name });
      }
      // Pods go when their kubelet has stopped them; the next event (their deletion) comes back here.
      if (pods > 0) continue;
      const live = await core.readNamespace({ name });
      live.spec = { finalizers: [] };
      await core.replaceNamespaceFinalize({ name, body: live });
    }
  }, onError);
  const informer = new Informer(api, "v1", "Namespace", {
    onEvent: () => sync.kick(),
    onSynced: () => sync.kick(),
    onError,
  });
  const pods = new Informer(api, "v1", "Pod", { onEvent: () => sync.kick(), onError });
  await Promise.all([informer.run(signal), pods.run(signal)]);
  await sync.stop();
}
