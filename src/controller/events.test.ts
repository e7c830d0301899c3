import { describe, expect, it } from "vitest";
import type { KubeApi, KubeObject } from "../kube/client.ts";
import { nodeEventRecorder } from "./events.ts";

function recordingApi() {
  const created: KubeObject[] = [];
  let active = 0;
  let maxActive = 0;
  const pending: Array<() => void> = [];
  const api = {
    create: (object: KubeObject) => {
      active++;
      maxActive = Math.max(maxActive, active);
      return new Promise<KubeObject>((resolve) =>
        pending.push(() => {
          active--;
          created.push(object);
          resolve(object);
        }),
      );
    },
  } as unknown as KubeApi;
  const settle = async () => {
    while (pending.length > 0) {
      pending.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { api, created, settle, maxActive: () => maxActive };
}

describe("nodeEventRecorder", () => {
  it("writes core/v1 Events about the node, a few at a time", async () => {
    const { api, created, settle, maxActive } = recordingApi();
    const record = nodeEventRecorder(api, "replica-1", () => undefined, { concurrency: 2, queue: 100 });
    for (let i = 0; i < 10; i++) record(`node-${i}`, "Normal", "BlockAllocated", "node block 10.241.0.16/28");
    await settle();
    expect(created).toHaveLength(10);
    expect(maxActive()).toBe(2);
    expect(created[0]).toMatchObject({
      apiVersion: "v1",
      kind: "Event",
      metadata: { namespace: "default" },
      involvedObject: { kind: "Node", name: "node-0" },
      type: "Normal",
      reason: "BlockAllocated",
      source: { component: "aks-ipvlan-controller" },
      reportingInstance: "replica-1",
    });
  });

  it("drops events beyond a full queue and says so", async () => {
    const { api, created, settle } = recordingApi();
    const errors: unknown[] = [];
    const record = nodeEventRecorder(api, "r", (error) => errors.push(error), { concurrency: 1, queue: 2 });
    for (let i = 0; i < 5; i++) record(`node-${i}`, "Normal", "BlockAllocated", "x");
    await settle();
    expect(created.map((event) => (event.involvedObject as { name: string }).name)).toEqual([
      "node-0",
      "node-1",
      "node-2",
    ]);
    expect(errors).toHaveLength(2);
  });
});
