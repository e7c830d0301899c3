// uninstall against the in-test API server (test/apiserver): it runs a cleanup pod on every node
// (a kubelet, played here by actors.ts) and deletes the product namespace, which without the real
// control plane's namespace controller would stay Terminating on the shared real server.
import { beforeEach, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import type { ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import type { KubeApi, KubeObject } from "../../src/kube/client.ts";
import { install } from "../../src/kube/install.ts";
import { uninstall } from "../../src/kube/uninstall.ts";
import { parseSpec } from "../../src/spec/load.ts";
import { renderManifests } from "../../src/manifests/render.ts";
import { AGENT_NAME, NAMESPACE, labelsOf } from "../../src/manifests/names.ts";
import type { JsonObject } from "../apiserver/patch.ts";
import { coreDns, daemonSetsBecomeReady, node, podsReach, recordedProgress } from "./actors.ts";

const seed = readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8");
const objects = renderManifests(parseSpec(seed)) as KubeObject[];

const kube = useInTestApiServer();
const stops = kube.stops;
let server: ApiServer;
let api: KubeApi;
const options = { timeoutMs: 10_000, progress: recordedProgress([]) };

beforeEach(async () => {
  ({ server, api } = kube);
  server.put(node("node1", "10.224.0.4"));
  server.put(node("node2", "10.224.0.5"));
  server.put(coreDns(true));
  stops.push(daemonSetsBecomeReady(server, 2));
  await install(api, objects, { dryRun: false, ...options });
});

type PodSpec = {
  nodeName: string;
  containers: Array<{ args?: string[]; readinessProbe?: unknown; ports?: unknown; volumeMounts?: unknown[] }>;
  initContainers?: unknown;
  hostNetwork?: boolean;
};

describe("uninstall against the in-test API server", () => {
  it("stops the agent, cleans every Linux node with the agent's own pod and --cleanup, then deletes everything", async () => {
    server.put(node("win1", "10.224.0.9", {}, "windows"));
    const cleanupPods: JsonObject[] = [];
    const seenAgent: Array<boolean> = [];
    stops.push(
      podsReach(server, (pod) => {
        cleanupPods.push(pod);
        seenAgent.push(server.get("apps/v1", "DaemonSet", AGENT_NAME, NAMESPACE) !== undefined);
        return "Succeeded";
      }),
    );
    const report = await uninstall(api, objects, options);

    expect(report.cleanup).toEqual([
      { node: "node1", outcome: "cleaned" },
      { node: "node2", outcome: "cleaned" },
    ]);
    // The agent was gone before any cleanup ran, so it could not put anything back.
    expect(seenAgent).toEqual([false, false]);
    const specs = cleanupPods.map((pod) => pod.spec as PodSpec);
    expect(specs.map((spec) => spec.nodeName).sort()).toEqual(["node1", "node2"]);
    for (const spec of specs) {
      expect(spec.hostNetwork).toBe(true);
      expect(spec.initContainers).toBeUndefined();
      expect(spec.containers).toHaveLength(1);
      expect(spec.containers[0]?.args?.slice(0, 1)).toEqual(["agent"]);
      expect(spec.containers[0]?.args?.at(-1)).toBe("--cleanup");
      expect(spec.containers[0]?.readinessProbe).toBeUndefined();
      expect(spec.containers[0]?.ports).toBeUndefined();
      expect(spec.containers[0]?.volumeMounts?.length).toBeGreaterThan(0);
    }
    expect(report.removed.map((r) => r.existed)).toEqual(objects.map(() => true));
    expect(report.removed[0]?.object).toBe(`DaemonSet ${NAMESPACE}/${AGENT_NAME}`);
    expect(report.removed.at(-1)?.object).toBe(`Namespace ${NAMESPACE}`);
    for (const object of objects) {
      expect(
        server.get(object.apiVersion, object.kind, object.metadata.name, object.metadata.namespace),
      ).toBeUndefined();
    }
  });

  it("waits for the agent's pods to be gone before cleaning", async () => {
    server.put({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "agent-x", namespace: NAMESPACE, labels: labelsOf(AGENT_NAME) },
      spec: { nodeName: "node1", containers: [{ name: "agent", image: "x" }] },
    });
    const order: string[] = [];
    stops.push(
      podsReach(server, (pod) => {
        order.push(`cleanup ${(pod.metadata as { name: string }).name}`);
        return "Succeeded";
      }),
    );
    const running = uninstall(api, objects, options);
    // The agent pod outlives its DaemonSet until its kubelet stops it: play that kubelet.
    await expect.poll(() => server.get("apps/v1", "DaemonSet", AGENT_NAME, NAMESPACE)).toBeUndefined();
    expect(order).toEqual([]);
    order.push("agent pod gone");
    server.remove("v1", "Pod", "agent-x", NAMESPACE);
    await running;
    expect(order[0]).toBe("agent pod gone");
    expect(order).toHaveLength(3);
  });

  it("reports a node whose cleanup failed and still removes the objects", async () => {
    stops.push(
      podsReach(server, (pod) => ((pod.spec as PodSpec).nodeName === "node2" ? "Failed" : "Succeeded")),
    );
    const report = await uninstall(api, objects, options);
    expect(report.cleanup).toEqual([
      { node: "node1", outcome: "cleaned" },
      { node: "node2", outcome: "failed", detail: "the cleanup exited with an error" },
    ]);
    expect(server.get("v1", "Namespace", NAMESPACE)).toBeUndefined();
  });

  it("cleans the nodes again when rerun after everything is gone, with what the cleanup pod needs put back", async () => {
    stops.push(podsReach(server, () => "Succeeded"));
    await uninstall(api, objects, options);
    const again = await uninstall(api, objects, options);
    expect(again.cleanup.map((c) => c.outcome)).toEqual(["cleaned", "cleaned"]);
    const workloads = (object: string) => /^(DaemonSet|Deployment) /.test(object);
    expect(
      again.removed
        .filter((r) => !r.existed)
        .map((r) => r.object)
        .every(workloads),
    ).toBe(true);
    expect(again.removed.filter((r) => r.existed).some((r) => r.object.startsWith("ConfigMap "))).toBe(true);
    expect(server.writes((r) => r.method === "PATCH" && /daemonsets|deployments/.test(r.path))).toHaveLength(
      objects.filter((o) => /DaemonSet|Deployment/.test(o.kind)).length,
    );
    expect(server.get("v1", "Namespace", NAMESPACE)).toBeUndefined();
  });
});
