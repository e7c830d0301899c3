// verify through the Kubernetes driver against the in-test API server (test/apiserver): the checks
// exec into their test pods, which needs a kubelet the real control plane here does not have.
import { beforeEach, describe, expect, it } from "vitest";
import { EventEmitter } from "node:events";
import type { ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import type { KubeApi } from "../../src/kube/client.ts";
import { withScratchNamespace, type Signals } from "../../src/kube/scratch-namespace.ts";
import { kubeDriver } from "../../src/verify/kube-driver.ts";
import { runSuite } from "../../src/verify/suite.ts";
import type { PodExec } from "../../src/kube/exec.ts";
import { junitXml } from "../../src/verify/junit.ts";
import { clusterForVerify, podsReach } from "./actors.ts";
import { fakeExec } from "./fake-exec.ts";

const kube = useInTestApiServer();
const stops = kube.stops;
let server: ApiServer;
let api: KubeApi;

beforeEach(async () => {
  ({ server, api } = kube);
  stops.push(...clusterForVerify(server));
});

function driverIn(namespace: string, exec: PodExec) {
  return kubeDriver({
    api,
    exec,
    name: "test",
    namespace,
    images: { busybox: "registry.example/busybox:1", nginx: "registry.example/nginx:1" },
    echoUrl: "http://echo.example/",
    dnsName: "google.com",
    timeoutMs: 10_000,
  });
}

const scratchNamespaces = () =>
  server
    .list("v1", "Namespace")
    .filter((ns) => String((ns.metadata as { name: string }).name).startsWith("aks-ipvlan-verify-"));

describe("verify through the Kubernetes driver", () => {
  it("runs the suite with pinned test pods and node debug pods, then removes its namespace", async () => {
    const { exec, calls } = fakeExec(server);
    let namespaceDuringRun = "";
    const results = await withScratchNamespace(api, "aks-ipvlan-verify", (namespace, runId) => {
      namespaceDuringRun = namespace;
      return runSuite(driverIn(namespace, exec), { runId });
    });
    const byStatus = (status: string) => results.filter((r) => r.status === status).map((r) => r.id);
    expect(results.filter((r) => r.status === "fail").map((r) => `${r.id}: ${r.reason}`)).toEqual([]);
    expect(byStatus("not-applicable")).toEqual(["nodeport-same-node", "nodeport-cross-node"]);
    expect(scratchNamespaces()).toEqual([]);
    expect(namespaceDuringRun).toMatch(/^aks-ipvlan-verify-[0-9a-f]{6}$/);

    const pods = server.requests.filter((r) => r.method === "POST" && r.path.endsWith("/pods"));
    expect(pods.length).toBeGreaterThanOrEqual(4);
    const debugCalls = calls.filter((c) => c.target.container === "debug");
    expect(debugCalls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.target.namespace === namespaceDuringRun)).toBe(true);
  });

  it("fails the source-preserving checks when pods see another address (negative control)", async () => {
    const { exec } = fakeExec(server, { rewriteSourceTo: "10.224.0.4" });
    const results = await withScratchNamespace(api, "aks-ipvlan-verify", (namespace, runId) =>
      runSuite(driverIn(namespace, exec), { runId }),
    );
    const failed = results.filter((r) => r.status === "fail").map((r) => r.id);
    expect(failed).toEqual(["pod-to-pod-same-node", "pod-to-pod-cross-node"]);
    const xml = junitXml("verify", results);
    expect(xml).toContain('failures="2"');
    expect(xml).toContain('skipped="2"');
    expect(xml).toMatch(
      /<testcase [^>]*name="pod-to-pod-same-node[^"]*"[^>]*>\s*<failure message="pod to pod: the server saw 10\.224\.0\.4/,
    );
  });

  it("pins test pods to their node and runs node commands in a privileged hostNetwork pod there", async () => {
    const { exec } = fakeExec(server);
    await withScratchNamespace(api, "aks-ipvlan-verify", async (namespace) => {
      const driver = driverIn(namespace, exec);
      const pod = await driver.createPod({ name: "client-a", node: "node2", role: "client" });
      expect(pod).toMatchObject({ node: "node2", role: "client" });
      const stored = server.get("v1", "Pod", "client-a", namespace)!;
      expect(stored.spec).toMatchObject({
        nodeName: "node2",
        containers: [{ image: "registry.example/busybox:1" }],
      });
      const result = await driver.execOnNode({ name: "node2", ip: "10.224.0.5" }, [
        "busybox",
        "ip",
        "route",
        "show",
      ]);
      expect(result.code).toBe(0);
      const debug = server
        .list("v1", "Pod", namespace)
        .find((p) => (p.spec as { hostNetwork?: boolean }).hostNetwork);
      expect(debug?.spec).toMatchObject({
        nodeName: "node2",
        hostNetwork: true,
        containers: [{ securityContext: { privileged: true } }],
      });
    });
  });

  it("removes its namespace when the suite fails", async () => {
    const { exec } = fakeExec(server, { refuse: true });
    // No ready pods: the first test pod never starts.
    stops.splice(0, 1)[0]!();
    stops.push(podsReach(server, () => undefined));
    const failing = withScratchNamespace(api, "aks-ipvlan-verify", (namespace, runId) =>
      runSuite({ ...driverIn(namespace, exec) }, { runId }).then(() => {
        throw new Error("unreachable");
      }),
    );
    server.onChange((event) => {
      const meta = event.object.metadata as { name: string; namespace?: string };
      if (event.type === "ADDED" && event.object.kind === "Pod") {
        setImmediate(() => {
          const pod = server.get("v1", "Pod", meta.name, meta.namespace)!;
          server.put({
            ...pod,
            status: {
              phase: "Pending",
              containerStatuses: [
                { name: "client", state: { waiting: { reason: "ErrImagePull", message: "not found" } } },
              ],
            },
          });
        });
      }
    });
    await expect(failing).rejects.toThrow(/ErrImagePull/);
    expect(scratchNamespaces()).toEqual([]);
  });

  it("removes its namespace on Ctrl-C and exits 130", async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    let release: () => void = () => undefined;
    const run = withScratchNamespace(
      api,
      "aks-ipvlan-verify",
      () => new Promise<void>((resolve) => (release = resolve)),
      { signals: signals as unknown as Signals, exit: (code) => exits.push(code) },
    );
    await expect.poll(() => scratchNamespaces().length).toBe(1);
    signals.emit("SIGINT");
    await expect.poll(() => exits).toEqual([130]);
    expect(scratchNamespaces()).toEqual([]);
    release();
    await run;
    expect(signals.listenerCount("SIGINT")).toBe(0);
  });
});
