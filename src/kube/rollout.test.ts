import { describe, expect, it } from "vitest";
import { daemonSetRollout, deploymentRollout } from "./rollout.ts";
import type { KubeObject } from "./client.ts";

const daemonSet = (generation: number, status: Record<string, number>): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { name: "agent", generation },
  status,
});

describe("daemonSetRollout", () => {
  const all = { desiredNumberScheduled: 3, numberReady: 3, updatedNumberScheduled: 3 };

  it("is done when every scheduled pod is ready and updated, for the current generation", () => {
    expect(daemonSetRollout(daemonSet(2, { observedGeneration: 2, ...all }))).toEqual({
      done: true,
      progress: "ready on 3/3 nodes, updated on 3/3",
    });
  });

  it("is not done while the controller has not seen the newest generation, however ready it looks", () => {
    expect(daemonSetRollout(daemonSet(3, { observedGeneration: 2, ...all })).done).toBe(false);
  });

  it("is not done while a node runs an old pod or a pod is not ready", () => {
    expect(
      daemonSetRollout(daemonSet(1, { observedGeneration: 1, ...all, updatedNumberScheduled: 2 })).done,
    ).toBe(false);
    expect(daemonSetRollout(daemonSet(1, { observedGeneration: 1, ...all, numberReady: 2 }))).toEqual({
      done: false,
      progress: "ready on 2/3 nodes, updated on 3/3",
    });
  });

  it("is not done when the DaemonSet is missing", () => {
    expect(daemonSetRollout(undefined).done).toBe(false);
  });
});

describe("deploymentRollout", () => {
  const deployment = (status: Record<string, number>): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "coredns", generation: 4 },
    spec: { replicas: 2 },
    status: { observedGeneration: 4, ...status },
  });

  it("is done when the wanted replicas are ready and no old replica is left", () => {
    expect(deploymentRollout(deployment({ replicas: 2, updatedReplicas: 2, readyReplicas: 2 })).done).toBe(
      true,
    );
    expect(deploymentRollout(deployment({ replicas: 3, updatedReplicas: 2, readyReplicas: 2 })).done).toBe(
      false,
    );
    expect(deploymentRollout(deployment({ replicas: 2, updatedReplicas: 2, readyReplicas: 1 })).done).toBe(
      false,
    );
  });
});
