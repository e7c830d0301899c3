// The parts of a cluster the in-test API server does not play: the DaemonSet and Deployment
// controllers and the kubelet, each reduced to writing the status our commands wait for.
import type { ApiServer } from "../apiserver/server.ts";
import type { JsonObject } from "../apiserver/patch.ts";
import type { Progress } from "../../src/kube/wait.ts";
import { POD_LABEL } from "../../src/verify/kube-driver.ts";

type Meta = { name: string; namespace?: string; generation?: number; labels?: Record<string, string> };

function meta(object: JsonObject): Meta {
  return object.metadata as Meta;
}

/** Calls `react` (outside the server's own event delivery) for every change to objects of `kind`. */
function onKind(
  server: ApiServer,
  kind: string,
  react: (object: JsonObject, type: string) => void,
): () => void {
  return server.onChange((event) => {
    if (event.object.kind === kind) setImmediate(() => react(event.object, event.type));
  });
}

/** The DaemonSet controller and the kubelets of `nodes` nodes: every pod becomes ready on all of them. */
export function daemonSetsBecomeReady(server: ApiServer, nodes: number): () => void {
  return onKind(server, "DaemonSet", (object, type) => {
    if (type === "DELETED") return;
    const current = server.get("apps/v1", "DaemonSet", meta(object).name, meta(object).namespace);
    if (!current) return;
    const generation = meta(current).generation ?? 1;
    const status = current.status as { observedGeneration?: number } | undefined;
    if (status?.observedGeneration === generation) return;
    server.put({
      ...current,
      status: {
        observedGeneration: generation,
        desiredNumberScheduled: nodes,
        currentNumberScheduled: nodes,
        updatedNumberScheduled: nodes,
        numberReady: nodes,
        numberAvailable: nodes,
      },
    });
  });
}

function deploymentStatus(generation: number, replicas: number, ready: number): JsonObject {
  return { observedGeneration: generation, replicas, updatedReplicas: replicas, readyReplicas: ready };
}

export function coreDns(ready: boolean): JsonObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "coredns", namespace: "kube-system", generation: 1 },
    spec: {
      replicas: 2,
      selector: { matchLabels: { "k8s-app": "kube-dns" } },
      template: {
        metadata: { labels: { "k8s-app": "kube-dns" } },
        spec: { containers: [{ name: "coredns", image: "coredns" }] },
      },
    },
    status: deploymentStatus(1, 2, ready ? 2 : 0),
  };
}

/** The Deployment controller: a new pod template generation rolls out and becomes ready. */
export function deploymentsRollOut(server: ApiServer): () => void {
  return onKind(server, "Deployment", (object, type) => {
    if (type === "DELETED") return;
    const current = server.get("apps/v1", "Deployment", meta(object).name, meta(object).namespace);
    if (!current) return;
    const generation = meta(current).generation ?? 1;
    if ((current.status as { observedGeneration?: number } | undefined)?.observedGeneration === generation)
      return;
    const replicas = (current.spec as { replicas?: number }).replicas ?? 1;
    server.put({ ...current, status: deploymentStatus(generation, replicas, replicas) });
  });
}

/** The kubelet: pods run to the given phase (or become Running and Ready) as soon as they exist. */
export function podsReach(
  server: ApiServer,
  phaseOf: (pod: JsonObject) => "Succeeded" | "Failed" | "Running" | undefined,
  extraStatus: (pod: JsonObject) => JsonObject = () => ({}),
): () => void {
  return onKind(server, "Pod", (object, type) => {
    if (type !== "ADDED") return;
    const current = server.get("v1", "Pod", meta(object).name, meta(object).namespace);
    const phase = current && phaseOf(current);
    if (!current || !phase) return;
    server.put({
      ...current,
      status: {
        phase,
        conditions: [{ type: "Ready", status: phase === "Running" ? "True" : "False" }],
        ...extraStatus(current),
      },
    });
  });
}

export function node(
  name: string,
  ip: string,
  annotations: Record<string, string> = {},
  os: "linux" | "windows" = "linux",
): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, annotations, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": os } },
    status: {
      addresses: [{ type: "InternalIP", address: ip }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

/** Records progress lines instead of printing them. */
export function recordedProgress(lines: string[]): (label: string) => Progress {
  return (label) => ({ update: (line) => lines.push(`${label}: ${line}`), done: () => undefined });
}

/** Assigns ClusterIP and NodePort, and publishes the selected pod as the service's EndpointSlice. */
function serviceControllers(server: ApiServer): () => void {
  let next = 100;
  return onKind(server, "Service", (object, type) => {
    const meta = object.metadata as { name: string; namespace: string };
    if (type !== "ADDED" || meta.namespace === "kube-system") return;
    const spec = object.spec as JsonObject & { selector: Record<string, string>; ports: JsonObject[] };
    const n = next++;
    server.put({
      ...object,
      spec: {
        ...spec,
        clusterIP: `10.0.0.${n}`,
        ports: spec.ports.map((p) => ({ ...p, nodePort: 30000 + n })),
      },
    });
    const backend = server
      .list("v1", "Pod", meta.namespace)
      .find(
        (pod) =>
          (pod.metadata as { labels?: Record<string, string> }).labels?.[POD_LABEL] ===
          spec.selector[POD_LABEL],
      );
    server.put({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: `${meta.name}-x`,
        namespace: meta.namespace,
        labels: { "kubernetes.io/service-name": meta.name },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [(backend?.status as { podIP: string }).podIP], conditions: { ready: true } }],
    });
  });
}

/**
 * A two-node cluster ready for the verification suite: nodes, kube-dns, kubelets that run every pod
 * (test pods get addresses from the first block, hostNetwork pods the node's), and the service
 * controllers. Returns the stop functions of its actors.
 */
export function clusterForVerify(server: ApiServer): Array<() => void> {
  const nodeIps: Record<string, string> = { node1: "10.224.0.4", node2: "10.224.0.5" };
  for (const [name, ip] of Object.entries(nodeIps)) server.put(node(name, ip));
  server.put({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "kube-dns", namespace: "kube-system" },
    spec: { clusterIP: "10.0.0.10", ports: [{ port: 53, protocol: "UDP" }] },
  });
  let nextPod = 17;
  return [
    podsReach(
      server,
      () => "Running",
      (pod) => {
        const spec = pod.spec as { nodeName: string; hostNetwork?: boolean };
        const hostIP = nodeIps[spec.nodeName]!;
        return { hostIP, podIP: spec.hostNetwork ? hostIP : `10.224.0.${nextPod++}` };
      },
    ),
    serviceControllers(server),
  ];
}
