// install against the in-test API server (test/apiserver). It stays there: install owns the fixed
// product namespace, which the real-server tests running beside it use too, and it waits on the
// DaemonSet and Deployment controllers, which the real control plane here (test/realkube) does not run;
// the tests play them (actors.ts). The rendered RBAC meets the real server in agent-rbac.test.ts and
// test/controller/rbac.test.ts.
import { beforeEach, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { KubernetesObjectApi } from "@kubernetes/client-node";
import type { ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import type { KubeApi, KubeObject } from "../../src/kube/client.ts";
import { install } from "../../src/kube/install.ts";
import { ApplyConflictError } from "../../src/kube/apply.ts";
import { WaitTimeoutError } from "../../src/kube/wait.ts";
import { RESTARTED_AT_ANNOTATION } from "../../src/kube/rollout.ts";
import { parseSpec } from "../../src/spec/load.ts";
import { renderManifests } from "../../src/manifests/render.ts";
import { AGENT_NAME, CONFIG_MAP_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import { coreDns, daemonSetsBecomeReady, deploymentsRollOut, node, recordedProgress } from "./actors.ts";

const seed = readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8");
const objects = renderManifests(parseSpec(seed)) as KubeObject[];

const kube = useInTestApiServer();
const stops = kube.stops;
let server: ApiServer;
let api: KubeApi;
beforeEach(async () => {
  ({ server, api } = kube);
  server.put(node("node1", "10.224.0.4"));
  server.put(node("node2", "10.224.0.5"));
});

const options = (progress: string[] = []) => ({
  dryRun: false,
  timeoutMs: 10_000,
  progress: recordedProgress(progress),
});

function resourceVersions(): Map<string, string> {
  return new Map(
    objects.map((object) => {
      const stored = server.get(
        object.apiVersion,
        object.kind,
        object.metadata.name,
        object.metadata.namespace,
      );
      return [
        `${object.kind}/${object.metadata.name}`,
        String((stored?.metadata as { resourceVersion?: string })?.resourceVersion),
      ];
    }),
  );
}

describe("install against the in-test API server", () => {
  it("creates every object, namespace first, with our field manager, and waits for the agent DaemonSet", async () => {
    server.put(coreDns(true));
    let finished = false;
    const progress: string[] = [];
    const running = install(api, objects, options(progress)).finally(() => (finished = true));
    await expect.poll(() => server.get("apps/v1", "DaemonSet", AGENT_NAME, NAMESPACE)).toBeDefined();
    await expect.poll(() => progress.length).toBeGreaterThan(0);
    // The DaemonSet has no status yet: install must still be waiting.
    expect(finished).toBe(false);
    stops.push(daemonSetsBecomeReady(server, 2));
    server.put({ ...server.get("apps/v1", "DaemonSet", AGENT_NAME, NAMESPACE)! }); // wake the controller
    const report = await running;

    expect(report.applied.map((a) => a.change)).toEqual(objects.map(() => "created"));
    expect(report.applied[0]?.ref.kind).toBe("Namespace");
    expect(report.agent).toBe("ready on 2/2 nodes, updated on 2/2");
    expect(report.coreDns).toBe("ready");
    const applies = server.writes((r) => r.method === "PATCH");
    expect(applies).toHaveLength(objects.length);
    for (const write of applies) {
      expect(write.contentType).toContain("application/apply-patch+yaml");
      expect(write.query.get("fieldManager")).toBe("aks-ipvlan");
    }
    expect(server.writes((r) => r.path.endsWith("/coredns"))).toHaveLength(0);
  });

  it("changes nothing when rerun", async () => {
    server.put(coreDns(true));
    stops.push(daemonSetsBecomeReady(server, 2));
    await install(api, objects, options());
    const before = resourceVersions();
    const report = await install(api, objects, options());
    expect(report.applied.map((a) => a.change)).toEqual(objects.map(() => "unchanged"));
    expect(resourceVersions()).toEqual(before);
  });

  it("reports what a changed spec configures, and only that", async () => {
    server.put(coreDns(true));
    stops.push(daemonSetsBecomeReady(server, 2));
    await install(api, objects, options());
    const changed = renderManifests(parseSpec(`${seed}\nagent:\n  resyncSeconds: 20\n`)) as KubeObject[];
    const report = await install(api, changed, options());
    const configured = report.applied.filter((a) => a.change === "configured").map((a) => a.ref.name);
    expect(configured).toEqual([CONFIG_MAP_NAME]);
  });

  it("restarts CoreDNS only when it is not Ready, as kubectl rollout restart does", async () => {
    server.put(coreDns(false));
    stops.push(daemonSetsBecomeReady(server, 2), deploymentsRollOut(server));
    const report = await install(api, objects, { ...options(), now: () => new Date("2026-01-02T03:04:05Z") });
    expect(report.coreDns).toBe("restarted");
    const deployment = server.get("apps/v1", "Deployment", "coredns", "kube-system")!;
    const template = (deployment.spec as { template: { metadata: { annotations: Record<string, string> } } })
      .template;
    expect(template.metadata.annotations[RESTARTED_AT_ANNOTATION]).toBe("2026-01-02T03:04:05.000Z");

    const again = await install(api, objects, options());
    expect(again.coreDns).toBe("ready");
  });

  it("times out with the DaemonSet's state when the agent never gets ready", async () => {
    server.put(coreDns(true));
    const error = await install(api, objects, { ...options(), timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toContain(`DaemonSet ${NAMESPACE}/${AGENT_NAME}`);
  });

  it("dry run: the server judges every object and nothing is stored", async () => {
    server.put(coreDns(false));
    const report = await install(api, objects, { ...options(), dryRun: true });
    expect(report.applied.map((a) => a.change)).toEqual(objects.map(() => "created"));
    expect(report.coreDns).toBe("not checked (dry run)");
    expect(server.get("v1", "Namespace", NAMESPACE)).toBeUndefined();
    expect(server.writes((r) => r.query.get("dryRun") !== "All")).toHaveLength(0);
  });

  it("dry run after an install names exactly the object a changed spec would configure", async () => {
    server.put(coreDns(true));
    stops.push(daemonSetsBecomeReady(server, 2));
    await install(api, objects, options());
    const before = resourceVersions();
    const changed = renderManifests(parseSpec(`${seed}\nagent:\n  resyncSeconds: 20\n`)) as KubeObject[];
    const report = await install(api, changed, { ...options(), dryRun: true });
    const configured = report.applied.filter((a) => a.change === "configured").map((a) => a.ref.name);
    expect(configured).toEqual([CONFIG_MAP_NAME]);
    expect(resourceVersions()).toEqual(before);
  });
});

describe("server-side apply conflicts", () => {
  const configMap = objects.find((o) => o.kind === "ConfigMap")!;
  const someoneElses = {
    ...configMap,
    metadata: { ...configMap.metadata },
    data: { "cluster.yaml": "not ours\n" },
  };

  it("stops at an object another field manager created, naming the conflicting field", async () => {
    const other = KubernetesObjectApi.makeApiClient(server.kubeConfig());
    await other.create(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } },
      undefined,
      undefined,
      "kubectl",
    );
    await other.create(someoneElses, undefined, undefined, "kubectl");
    const error = await install(api, objects, options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyConflictError);
    expect((error as Error).message).toContain("cluster.yaml");
    expect(server.get("v1", "ConfigMap", CONFIG_MAP_NAME, NAMESPACE)?.data).toEqual(someoneElses.data);
  });

  it("takes back a field someone edited on an object we manage (force)", async () => {
    server.put(coreDns(true));
    stops.push(daemonSetsBecomeReady(server, 2));
    await install(api, objects, options());
    const other = KubernetesObjectApi.makeApiClient(server.kubeConfig());
    await other.patch(
      someoneElses,
      undefined,
      undefined,
      "kubectl-edit",
      true,
      "application/apply-patch+yaml",
    );
    expect(server.get("v1", "ConfigMap", CONFIG_MAP_NAME, NAMESPACE)?.data).toEqual(someoneElses.data);
    const report = await install(api, objects, options());
    expect(report.applied.find((a) => a.ref.kind === "ConfigMap")?.change).toBe("configured");
    expect(server.get("v1", "ConfigMap", CONFIG_MAP_NAME, NAMESPACE)?.data).toEqual(configMap.data);
  });
});
