// Short-lived pods we start ourselves (test pods, node debug pods, cleanup pods): create, wait until
// ready or finished, failing fast when the pod can never get there (image pull errors, a failed run).
import { createHash } from "node:crypto";
import type { KubeApi, KubeObject, ObjectRef } from "./client.ts";
import { modelOf } from "./models.ts";
import { waitFor, type Verdict } from "./wait.ts";

export type PodGoal = "ready" | "finished";

export interface PodState {
  phase: string;
  ready: boolean;
  /** Why the pod will not reach its goal without someone's help, e.g. "ErrImagePull: ...". */
  problem?: string;
}

const HOPELESS_WAITING = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
]);

export function podState(pod: KubeObject): PodState {
  const status = modelOf("v1/Pod", pod).status ?? {};
  const phase = status.phase ?? "Pending";
  const ready = (status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  for (const container of status.containerStatuses ?? []) {
    const waiting = container.state?.waiting;
    if (waiting?.reason && HOPELESS_WAITING.has(waiting.reason)) {
      return {
        phase,
        ready,
        problem: `${container.name}: ${waiting.reason}: ${waiting.message ?? ""}`.trim(),
      };
    }
  }
  return { phase, ready };
}

export function podVerdict(pod: KubeObject | undefined, goal: PodGoal): Verdict {
  if (!pod) return { done: false, progress: "pod not created yet" };
  const state = podState(pod);
  if (state.problem) return { done: true, progress: state.problem };
  if (state.phase === "Succeeded" || state.phase === "Failed") return { done: true, progress: state.phase };
  if (goal === "ready" && state.ready) return { done: true, progress: "Ready" };
  return { done: false, progress: state.phase };
}

class PodFailedError extends Error {
  constructor(ref: ObjectRef, reason: string) {
    super(`pod ${ref.namespace}/${ref.name} failed: ${reason}`);
    this.name = "PodFailedError";
  }
}

/** Creates the pod and waits for its goal; throws PodFailedError when it cannot get there. */
export async function startPod(
  api: KubeApi,
  pod: KubeObject,
  goal: PodGoal,
  options: { timeoutMs: number; onProgress?: (line: string) => void },
): Promise<KubeObject> {
  await api.create(pod);
  return awaitPod(api, podRef(pod), goal, options);
}

async function awaitPod(
  api: KubeApi,
  ref: ObjectRef,
  goal: PodGoal,
  options: { timeoutMs: number; onProgress?: (line: string) => void },
): Promise<KubeObject> {
  const [pod] = await waitFor(
    api,
    {
      apiVersion: "v1",
      kind: "Pod",
      namespace: ref.namespace,
      fieldSelector: `metadata.name=${ref.name}`,
      what: `pod ${ref.namespace}/${ref.name}`,
    },
    (pods) => podVerdict(pods[0], goal),
    options,
  );
  const state = podState(pod!);
  if (state.problem) throw new PodFailedError(ref, state.problem);
  if (goal === "ready" && state.phase !== "Running") throw new PodFailedError(ref, `ended ${state.phase}`);
  return pod!;
}

function podRef(pod: KubeObject): ObjectRef {
  return { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, namespace: pod.metadata.namespace };
}

const MAX_NAME = 63;

/** `prefix-node`, shortened with a hash of the node name when it would not fit a DNS label. */
export function perNodeName(prefix: string, node: string): string {
  const name = `${prefix}-${node}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  if (name.length <= MAX_NAME) return name;
  const hash = createHash("sha256").update(node).digest("hex").slice(0, 8);
  return `${name.slice(0, MAX_NAME - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}
