// The workload controllers' part the scenario needs (no kube-controller-manager or scheduler runs in
// the guest), for the product's two workloads: a DaemonSet gets one pod on every node its nodeSelector
// matches (its pods tolerate a node that is not Ready yet, as every DaemonSet pod does); a Deployment
// gets its replicas, at most one per node (the controller's required anti-affinity), on matching
// nodes. Pods are made from the template and owned by their workload; pods whose owner or node is gone
// are deleted (the garbage collector's part). The status counts are those `kubectl rollout status` and
// install read. Every template counts as current: the scenario never changes one.
import type { AppsV1Api, CoreV1Api, V1Deployment, V1DaemonSet, V1Pod } from "@kubernetes/client-node";
import type { KubeApi, KubeObject } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { perNodeName, podState } from "../../kube/pods.ts";
import { Coalescer } from "../../sys/coalesce.ts";

function matches(selector: Record<string, string> | undefined, node: KubeObject): boolean {
  const labels = node.metadata.labels ?? {};
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

function podFor(owner: V1DaemonSet | V1Deployment, kind: string, node: string): V1Pod {
  const template = owner.spec?.template;
  return {
    metadata: {
      name: perNodeName(owner.metadata?.name ?? "", node),
      namespace: owner.metadata?.namespace ?? "",
      labels: template?.metadata?.labels ?? {},
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind,
          name: owner.metadata?.name ?? "",
          uid: owner.metadata?.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { ...template?.spec, containers: template?.spec?.containers ?? [], nodeName: node },
  };
}

type Counts = Record<string, number>;

/** True when `status` already holds `counts` (absent fields are 0): then nothing is written. */
function holds(status: object | undefined, counts: Counts): boolean {
  const current = status as Record<string, number | undefined> | undefined;
  return Object.entries(counts).every(([key, value]) => (current?.[key] ?? 0) === value);
}

interface WorkloadKind<T extends V1DaemonSet | V1Deployment> {
  name: "DaemonSet" | "Deployment";
  read(apps: AppsV1Api, name: string, namespace: string): Promise<T>;
  /** How many pods it wants, given how many nodes its selector matches. */
  wanted(workload: T, matching: number): number;
  counts(workload: T, pods: { matching: number; owned: number; ready: number }): Counts;
  write(apps: AppsV1Api, name: string, namespace: string, body: T): Promise<unknown>;
}

/** One pod on every matching node. */
const DAEMON_SET: WorkloadKind<V1DaemonSet> = {
  name: "DaemonSet",
  read: (apps, name, namespace) => apps.readNamespacedDaemonSet({ name, namespace }),
  wanted: (_, matching) => matching,
  counts: (set, { matching, owned, ready }) => ({
    currentNumberScheduled: owned,
    desiredNumberScheduled: matching,
    numberMisscheduled: 0,
    numberReady: ready,
    numberAvailable: ready,
    updatedNumberScheduled: owned,
    observedGeneration: set.metadata?.generation ?? 0,
  }),
  write: (apps, name, namespace, body) => apps.replaceNamespacedDaemonSetStatus({ name, namespace, body }),
};

/** Its replicas, at most one per matching node. */
const DEPLOYMENT: WorkloadKind<V1Deployment> = {
  name: "Deployment",
  read: (apps, name, namespace) => apps.readNamespacedDeployment({ name, namespace }),
  wanted: (deployment) => deployment.spec?.replicas ?? 1,
  counts: (deployment, { owned, ready }) => ({
    replicas: owned,
    readyReplicas: ready,
    availableReplicas: ready,
    updatedReplicas: owned,
    observedGeneration: deployment.metadata?.generation ?? 0,
  }),
  write: (apps, name, namespace, body) => apps.replaceNamespacedDeploymentStatus({ name, namespace, body }),
};

/** Runs the DaemonSets and Deployments of the cluster until `signal` aborts. */
export async function runWorkloads(
  api: KubeApi,
  clients: { core: CoreV1Api; apps: AppsV1Api },
  signal: AbortSignal,
  onError: (error: unknown) => void,
): Promise<void> {
  const kick = () => sync.kick();
  const informers = {
    daemonSets: new Informer(api, "apps/v1", "DaemonSet", { onEvent: kick, onSynced: kick, onError }),
    deployments: new Informer(api, "apps/v1", "Deployment", { onEvent: kick, onSynced: kick, onError }),
    nodes: new Informer(api, "v1", "Node", { onEvent: kick, onSynced: kick, onError }),
    pods: new Informer(api, "v1", "Pod", { onEvent: kick, onSynced: kick, onError }),
  };
  const sync = new Coalescer(async () => {
    const daemonSets = [...informers.daemonSets.objects.values()];
    const deployments = [...informers.deployments.objects.values()];
    const owners = [...daemonSets, ...deployments];
    const nodes = [...informers.nodes.objects.values()];
    const pods = [...informers.pods.objects.values()];
    const owner = (pod: KubeObject) =>
      (pod.metadata as { ownerReferences?: Array<{ uid: string }> }).ownerReferences?.[0]?.uid;
    const nodeOf = (pod: KubeObject) => (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    const create = (namespace: string, body: V1Pod) =>
      // A pod created by the previous pass may not be in the informer yet: the name says it exists.
      clients.core.createNamespacedPod({ namespace, body }).catch((error: unknown) => {
        if ((error as { code?: number }).code !== 409) throw error;
      });
    for (const pod of pods) {
      const uid = owner(pod);
      const orphan = uid !== undefined && !owners.some((set) => set.metadata.uid === uid);
      const nodeGone = uid !== undefined && !nodes.some((node) => node.metadata.name === nodeOf(pod));
      const deleting = (pod.metadata as { deletionTimestamp?: string }).deletionTimestamp !== undefined;
      if ((orphan || nodeGone) && !deleting)
        await clients.core.deleteNamespacedPod({
          name: pod.metadata.name,
          namespace: pod.metadata.namespace ?? "",
        });
    }
    const syncKind = async <T extends V1DaemonSet | V1Deployment>(
      kind: WorkloadKind<T>,
      objects: KubeObject[],
    ) => {
      for (const object of objects) {
        const name = object.metadata.name;
        const namespace = object.metadata.namespace ?? "";
        const workload = await kind.read(clients.apps, name, namespace);
        const selector = workload.spec?.template.spec?.nodeSelector;
        const owned = pods.filter((pod) => owner(pod) === workload.metadata?.uid);
        const matching = nodes.filter((node) => matches(selector, node));
        const free = matching.filter((node) => !owned.some((pod) => nodeOf(pod) === node.metadata.name));
        for (const node of free.slice(0, kind.wanted(workload, matching.length) - owned.length))
          await create(namespace, podFor(workload, kind.name, node.metadata.name));
        const ready = owned.filter((pod) => podState(pod).ready).length;
        const status = kind.counts(workload, { matching: matching.length, owned: owned.length, ready });
        // Only a change is written: the write's own event would otherwise start the next pass.
        if (holds(workload.status, status)) continue;
        await kind.write(clients.apps, name, namespace, {
          ...workload,
          status: { ...workload.status, ...status },
        });
      }
    };
    await syncKind(DAEMON_SET, daemonSets);
    await syncKind(DEPLOYMENT, deployments);
  }, onError);
  await Promise.all(Object.values(informers).map((informer) => informer.run(signal)));
  await sync.stop();
}
