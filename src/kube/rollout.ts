// When a DaemonSet or Deployment counts as rolled out, read from its status as `kubectl rollout status`
// does, and the rollout restart that kubectl performs (a changed pod template annotation).
import type { KubeApi, KubeObject, ObjectRef } from "./client.ts";
import { modelOf, type Model } from "./models.ts";
import type { Verdict } from "./wait.ts";

function observed(object: Model<"apps/v1/DaemonSet"> | Model<"apps/v1/Deployment">): boolean {
  const seen = object.status?.observedGeneration;
  return seen !== undefined && seen >= (object.metadata.generation ?? 0);
}

/** Ready on every node it is scheduled to, all of them running the current template. */
export function daemonSetRollout(object: KubeObject | undefined): Verdict {
  if (!object) return { done: false, progress: "DaemonSet not found" };
  const daemonSet = modelOf("apps/v1/DaemonSet", object);
  if (!observed(daemonSet)) {
    return { done: false, progress: "waiting for the DaemonSet controller to see the new generation" };
  }
  const desired = daemonSet.status?.desiredNumberScheduled ?? 0;
  const ready = daemonSet.status?.numberReady ?? 0;
  const updated = daemonSet.status?.updatedNumberScheduled ?? 0;
  return {
    done: ready === desired && updated === desired,
    progress: `ready on ${ready}/${desired} nodes, updated on ${updated}/${desired}`,
  };
}

export function deploymentRollout(object: KubeObject | undefined): Verdict {
  if (!object) return { done: false, progress: "Deployment not found" };
  const deployment = modelOf("apps/v1/Deployment", object);
  if (!observed(deployment)) {
    return { done: false, progress: "waiting for the Deployment controller to see the new generation" };
  }
  const wanted = deployment.spec?.replicas ?? 1;
  const ready = deployment.status?.readyReplicas ?? 0;
  const updated = deployment.status?.updatedReplicas ?? 0;
  const total = deployment.status?.replicas ?? 0;
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
