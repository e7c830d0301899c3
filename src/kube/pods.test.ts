import { describe, expect, it } from "vitest";
import { perNodeName, podVerdict } from "./pods.ts";
import type { KubeObject } from "./client.ts";

const pod = (status: Record<string, unknown>): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "n" },
  status,
});

describe("podVerdict", () => {
  it("waits for Ready, and stops early on an image that cannot be pulled", () => {
    expect(podVerdict(pod({ phase: "Pending" }), "ready").done).toBe(false);
    expect(
      podVerdict(pod({ phase: "Running", conditions: [{ type: "Ready", status: "True" }] }), "ready").done,
    ).toBe(true);
    const pull = pod({
      phase: "Pending",
      containerStatuses: [
        { name: "c", state: { waiting: { reason: "ImagePullBackOff", message: "no such image" } } },
      ],
    });
    expect(podVerdict(pull, "ready")).toEqual({ done: true, progress: "c: ImagePullBackOff: no such image" });
  });

  it("waits for the end of a run when the goal is finished", () => {
    expect(
      podVerdict(pod({ phase: "Running", conditions: [{ type: "Ready", status: "True" }] }), "finished").done,
    ).toBe(false);
    expect(podVerdict(pod({ phase: "Succeeded" }), "finished").done).toBe(true);
  });
});

describe("perNodeName", () => {
  it("keeps short names readable and shortens long ones to a DNS label, distinct per node", () => {
    expect(perNodeName("node-debug", "aks-nodepool1-12345678-vmss000000")).toBe(
      "node-debug-aks-nodepool1-12345678-vmss000000",
    );
    const long = (suffix: string) => perNodeName("aks-ipvlan-cleanup", `${"a".repeat(60)}${suffix}`);
    expect(long("1")).toHaveLength(63);
    expect(long("1")).not.toBe(long("2"));
    expect(long("1")).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
