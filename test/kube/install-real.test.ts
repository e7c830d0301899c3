// install against the REAL kube-apiserver (test/realkube): every rendered object passes the real
// validation, defaulting and admission (the privileged agent DaemonSet included) and is stored under our
// field manager's Apply entry; install then waits on the DaemonSet's status. No DaemonSet or Deployment
// controller runs here: the test writes their status through the status subresource, as they would.
// The other install cases (conflicts, restarts, timeouts) stay on the in-test server (install.test.ts).
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { AppsV1Api, type V1DaemonSet, type V1Deployment } from "@kubernetes/client-node";
import type { KubeObject } from "../../src/kube/client.ts";
import { install } from "../../src/kube/install.ts";
import { parseSpec } from "../../src/spec/load.ts";
import { renderManifests } from "../../src/manifests/render.ts";
import { AGENT_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import { coreDns, recordedProgress } from "./actors.ts";
import { adminApi, adminKubeConfig } from "../realkube/cluster.ts";

const seed = readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8");
const objects = renderManifests(parseSpec(seed)) as KubeObject[];
const api = adminApi();
const apps = adminKubeConfig().makeApiClient(AppsV1Api);

/** What the Deployment controller writes once CoreDNS's replicas are ready. */
async function coreDnsReady(): Promise<void> {
  const { status: _, ...deployment } = coreDns(true) as KubeObject;
  await api.apply(deployment as KubeObject, { force: true });
  const stored: V1Deployment = await apps.readNamespacedDeployment({
    name: "coredns",
    namespace: "kube-system",
  });
  stored.status = {
    observedGeneration: stored.metadata!.generation!,
    replicas: 2,
    updatedReplicas: 2,
    readyReplicas: 2,
  };
  await apps.replaceNamespacedDeploymentStatus({ name: "coredns", namespace: "kube-system", body: stored });
}

/** What the DaemonSet controller writes once the agent runs on the one node. */
async function agentReadyOnOneNode(): Promise<void> {
  const stored: V1DaemonSet = await apps.readNamespacedDaemonSet({ name: AGENT_NAME, namespace: NAMESPACE });
  stored.status = {
    observedGeneration: stored.metadata!.generation!,
    desiredNumberScheduled: 1,
    currentNumberScheduled: 1,
    updatedNumberScheduled: 1,
    numberReady: 1,
    numberAvailable: 1,
    numberMisscheduled: 0,
  };
  await apps.replaceNamespacedDaemonSetStatus({ name: AGENT_NAME, namespace: NAMESPACE, body: stored });
}

describe("install against the real API server", () => {
  it("applies every rendered object (real validation, defaults and admission) with our field manager, and waits for the agent", async () => {
    await coreDnsReady();
    const progress: string[] = [];
    let finished = false;
    const running = install(api, objects, {
      dryRun: false,
      timeoutMs: 30_000,
      progress: recordedProgress(progress),
    }).finally(() => (finished = true));
    await expect
      .poll(() =>
        api.get({ apiVersion: "apps/v1", kind: "DaemonSet", name: AGENT_NAME, namespace: NAMESPACE }),
      )
      .toBeDefined();
    await expect.poll(() => progress.some((line) => line.includes("new generation"))).toBe(true);
    expect(finished).toBe(false);
    await agentReadyOnOneNode();
    const report = await running;
    expect(report.agent).toBe("ready on 1/1 nodes, updated on 1/1");
    expect(report.coreDns).toBe("ready");

    for (const object of objects) {
      const stored = await api.get({
        ...object,
        name: object.metadata.name,
        namespace: object.metadata.namespace,
      });
      expect(stored, `${object.kind} ${object.metadata.name}`).toBeDefined();
      expect(stored!.metadata.managedFields).toContainEqual(
        expect.objectContaining({ manager: "aks-ipvlan", operation: "Apply" }),
      );
    }
    // Defaults only a real API server fills in, on what admission let through.
    const daemonSet = await apps.readNamespacedDaemonSet({ name: AGENT_NAME, namespace: NAMESPACE });
    expect(daemonSet.spec?.revisionHistoryLimit).toBe(10);
    expect(daemonSet.spec?.template.spec?.schedulerName).toBe("default-scheduler");
    expect(daemonSet.spec?.template.spec?.containers[0]?.securityContext?.privileged).toBe(true);
    expect(daemonSet.spec?.template.spec?.containers[0]?.terminationMessagePath).toBe("/dev/termination-log");
  });
});
