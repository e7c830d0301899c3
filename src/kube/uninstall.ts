// Uninstall: stop the agent (so it cannot put anything back), run its cleanup once on every node,
// then delete our objects. A node whose cleanup did not finish is reported, not waited for forever:
// the objects are still removed, and rerunning uninstall cleans that node once it is back.
import { labelSelector, type KubeApi, type KubeObject } from "./client.ts";
import { applyOrder, describeRef, refOf } from "./apply.ts";
import { agentDaemonSet } from "./install.ts";
import { perNodeName, podState } from "./pods.ts";
import { modelOf, type Model } from "./models.ts";
import type { Progress } from "./wait.ts";
import { WaitTimeoutError, waitFor, type Selection } from "./wait.ts";

const CLEANUP_FLAG = "--cleanup";
const CLEANUP_LABEL = "aks-ipvlan.io/cleanup";
const WORKLOADS = new Set(["DaemonSet", "Deployment"]);

interface NodeCleanup {
  node: string;
  outcome: "cleaned" | "failed" | "timed out";
  detail?: string;
}

export interface UninstallReport {
  cleanup: NodeCleanup[];
  /** Every object we tried to delete, and whether it was there. */
  removed: Array<{ object: string; existed: boolean }>;
  /** False when the namespace was still terminating at the timeout (its deletion goes on). */
  namespaceGone: boolean;
}

export interface UninstallOptions {
  timeoutMs: number;
  progress: (label: string) => Progress;
}

export async function uninstall(
  api: KubeApi,
  objects: readonly KubeObject[],
  options: UninstallOptions,
): Promise<UninstallReport> {
  const rendered = agentDaemonSet(objects);
  const agentRef = refOf(rendered);
  const live = await api.get(agentRef);
  // What is running is what must be cleaned up; the rendering only stands in when it is gone.
  const agent = modelOf("apps/v1/DaemonSet", live ?? rendered);
  const namespace = agentRef.namespace!;

  const removed: UninstallReport["removed"] = [];
  if (live) {
    removed.push({ object: describeRef(agentRef), existed: await api.delete(agentRef) });
    const selector = { apiVersion: "v1", kind: "Pod", namespace, labelSelector: selectorOf(agent) };
    await waitGone(api, { ...selector, what: "agent pods" }, options);
  } else {
    // A rerun after the objects are gone: the cleanup pod needs its namespace, service account and
    // spec ConfigMap back (not the workloads: they would start configuring nodes again).
    const needed = applyOrder(objects).filter((object) => !WORKLOADS.has(object.kind));
    for (const object of needed) await api.apply(object, { force: true });
  }

  // Only the nodes the agent runs on (its nodeSelector: Linux) have anything to clean.
  const nodeSelector = labelSelector(agent.spec?.template.spec?.nodeSelector ?? {});
  const nodes = (await api.list("v1", "Node", { labelSelector: nodeSelector })).items.map(
    (node) => node.metadata.name,
  );
  for (const node of nodes) await api.create(cleanupPod(agent, node));
  const cleanup = await waitForCleanup(api, namespace, nodes, options);

  // Reverse apply order: the namespace (and everything left in it) goes last.
  for (const object of applyOrder(objects).reverse()) {
    const ref = refOf(object);
    if (live && object === rendered) continue;
    removed.push({ object: describeRef(ref), existed: await api.delete(ref) });
  }
  const namespaceSelector = {
    apiVersion: "v1",
    kind: "Namespace",
    fieldSelector: `metadata.name=${namespace}`,
  };
  const namespaceGone = await waitGone(
    api,
    { ...namespaceSelector, what: `namespace ${namespace}` },
    options,
  ).then(
    () => true,
    (error: unknown) => {
      if (error instanceof WaitTimeoutError) return false;
      throw error;
    },
  );
  return { cleanup, removed, namespaceGone };
}

/** The agent's own pod, run once on one node with --cleanup: same image, mounts and privileges. */
function cleanupPod(agent: Model<"apps/v1/DaemonSet">, node: string): KubeObject {
  const template = structuredClone(agent.spec?.template);
  const spec = template?.spec;
  const [container] = spec?.containers ?? [];
  if (!spec || !container) throw new Error(`${describeRef(refOf(agent))} has no containers`);
  // Probes and ports belong to the long-running agent (its port is on the host network and may be
  // in use); init containers prepare a node for running, not for cleaning.
  const { livenessProbe: _l, readinessProbe: _r, startupProbe: _s, ports: _p, ...kept } = container;
  const { initContainers: _init, ...podSpec } = spec;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: perNodeName("aks-ipvlan-cleanup", node),
      namespace: agent.metadata.namespace,
      labels: { ...template?.metadata?.labels, [CLEANUP_LABEL]: "true" },
    },
    spec: {
      ...podSpec,
      nodeName: node,
      restartPolicy: "Never",
      // Sidecars, if any, have nothing to do on a one-shot run.
      containers: [{ ...kept, args: [...(container.args ?? []), CLEANUP_FLAG] }],
    },
  };
}

function selectorOf(agent: Model<"apps/v1/DaemonSet">): string {
  return labelSelector(agent.spec?.selector.matchLabels ?? {});
}

async function waitForCleanup(
  api: KubeApi,
  namespace: string,
  nodes: readonly string[],
  options: UninstallOptions,
): Promise<NodeCleanup[]> {
  const progress = options.progress("node cleanup");
  const judge = (pods: KubeObject[]) => {
    const finished = pods.filter((pod) => {
      const state = podState(pod);
      return state.problem || state.phase === "Succeeded" || state.phase === "Failed";
    });
    return {
      done: finished.length >= nodes.length,
      progress: `${finished.length}/${nodes.length} nodes done`,
    };
  };
  let pods: KubeObject[];
  try {
    pods = await waitFor(
      api,
      {
        apiVersion: "v1",
        kind: "Pod",
        namespace,
        labelSelector: `${CLEANUP_LABEL}=true`,
        what: "node cleanup",
      },
      judge,
      { timeoutMs: options.timeoutMs, onProgress: (line) => progress.update(line) },
    );
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    pods = (await api.list("v1", "Pod", { namespace, labelSelector: `${CLEANUP_LABEL}=true` })).items;
  } finally {
    progress.done();
  }
  const byNode = new Map(pods.map((pod) => [modelOf("v1/Pod", pod).spec?.nodeName, pod]));
  return nodes.map((node): NodeCleanup => {
    const pod = byNode.get(node);
    const state = pod ? podState(pod) : undefined;
    if (state?.phase === "Succeeded") return { node, outcome: "cleaned" };
    if (state?.problem || state?.phase === "Failed") {
      return { node, outcome: "failed", detail: state.problem ?? "the cleanup exited with an error" };
    }
    return { node, outcome: "timed out", detail: `cleanup pod still ${state?.phase ?? "missing"}` };
  });
}

async function waitGone(api: KubeApi, selection: Selection, options: UninstallOptions): Promise<void> {
  const progress = options.progress(`removing ${selection.what}`);
  try {
    await waitFor(api, selection, (left) => ({ done: left.length === 0, progress: `${left.length} left` }), {
      timeoutMs: options.timeoutMs,
      onProgress: (line) => progress.update(line),
    });
  } finally {
    progress.done();
  }
}
