// When a DaemonSet or Deployment counts as rolled out, read from its status as `kubectl rollout status`
// does, and the rollout restart that kubectl performs (a changed pod template annotation).
import type { KubeApi, KubeObject, ObjectRef } from "./client.ts";
import type { Verdict } from "./wait.ts";

interface RolloutStatus {
  observedGeneration?: number;
  desiredNumberScheduled?: number;
  numberReady?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
}

function statusOf(object: KubeObject): RolloutStatus {
  return (object.status ?? {}) as RolloutStatus;
}

function observed(object: KubeObject): boolean {
  const seen = statusOf(object).observedGeneration;
  return seen !== undefined && seen >= (object.metadata.generation ?? 0);
}

/** Ready on every node it is scheduled to, all of them running the current template. */
export function daemonSetRollout(daemonSet: KubeObject | undefined): Verdict {
  if (!daemonSet) return { done: false, progress: "DaemonSet not found" };
  if (!observed(daemonSet)) {
    return { done: false, progress: "waiting for the DaemonSet controller to see the new generation" };
  }
  const status = statusOf(daemonSet);
  const desired = status.desiredNumberScheduled ?? 0;
  const ready = status.numberReady ?? 0;
  const updated = status.updatedNumberScheduled ?? 0;
  return {
    done: ready === desired && updated === desired,
    progress: `ready on ${ready}/${desired} nodes, updated on ${updated}/${desired}`,
  };
}

export function deploymentRollout(deployment: KubeObject | undefined): Verdict {
  if (!deployment) return { done: false, progress: "Deployment not found" };
  if (!observed(deployment)) {
    return { done: false, progress: "waiting for the Deployment controller to see the new generation" };
  }
  const wanted = ((deployment.spec as { replicas?: number } | undefined)?.replicas ?? 1) as number;
  const status = statusOf(deployment);
  const ready = status.readyReplicas ?? 0;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  return {
    // Old replicas still around mean the restart has not finished.
    done: ready >= wanted && updated >= wanted && total <= updated,
    progress: `${ready}/${wanted} replicas ready, ${updated} updated, ${total} in total`,
  };
}

export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";

/** What `kubectl rollout restart` does: a new pod template, so every pod is replaced. */
export function restartRollout(api: KubeApi, ref: ObjectRef, now: Date): Promise<KubeObject> {
  return api.mergePatch(ref, {
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: now.toISOString() } } } },
  });
}
