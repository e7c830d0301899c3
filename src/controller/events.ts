// Kubernetes Events on Node objects (core/v1, namespace "default" as the kubelet does for nodes), so
// `kubectl describe node` shows when a block was given and when its route was made or removed.
// Events are written a few at a time in the background: a burst of 5,000 joining nodes must not open
// 5,000 connections to the API server at once. An event that cannot be written is logged and
// otherwise ignored (as is one beyond a full queue): it must never hold allocation up.
import { randomBytes } from "node:crypto";
import type { KubeApi } from "../kube/client.ts";
import { Limiter } from "../sys/bounded.ts";

const EVENT_SOURCE = "aks-ipvlan-controller";

export type EventRecorder = (
  node: string,
  type: "Normal" | "Warning",
  reason: string,
  message: string,
) => void;

export function nodeEventRecorder(
  api: KubeApi,
  instance: string,
  onError: (error: unknown) => void,
  limits: { concurrency: number; queue: number } = { concurrency: 4, queue: 20_000 },
): EventRecorder {
  const writes = new Limiter(limits.concurrency);
  return (node, type, reason, message) => {
    if (writes.queued >= limits.queue) {
      onError(new Error(`event queue full: dropped ${reason} for node ${node}`));
      return;
    }
    const now = new Date().toISOString();
    void writes
      .run(() =>
        api.create({
          apiVersion: "v1",
          kind: "Event",
          metadata: { name: `${node}.${randomBytes(8).toString("hex")}`, namespace: "default" },
          involvedObject: { apiVersion: "v1", kind: "Node", name: node },
          type,
          reason,
          message,
          source: { component: EVENT_SOURCE },
          reportingComponent: EVENT_SOURCE,
          reportingInstance: instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        }),
      )
      .catch(onError);
  };
}
