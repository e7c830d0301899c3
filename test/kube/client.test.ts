import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../apiserver/server.ts";
import { connect, ClusterUnreachableError, type KubeApi } from "../../src/kube/client.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { waitFor } from "../../src/kube/wait.ts";

let server: ApiServer;
let api: KubeApi;
beforeEach(async () => {
  server = await startApiServer({ bookmarkIntervalMs: 50 });
  api = connect(server.kubeConfig());
});
afterEach(async () => {
  await server.close();
});

const configMap = (data: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "default" },
  data,
});
const ref = { apiVersion: "v1", kind: "ConfigMap", name: "c", namespace: "default" };

describe("the Kubernetes client over the wire", () => {
  it("writes and reads fields whose name in client-node's model differs from the wire's (NetworkPolicy's from)", async () => {
    const spec = {
      podSelector: {},
      policyTypes: ["Ingress"],
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { team: "blue" } } }], ports: [{ port: "http" }] },
      ],
    };
    const policy = (name: string) => ({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name, namespace: "default" },
      spec,
    });
    expect((await api.create(policy("created"))).spec).toEqual(spec);
    await api.apply(policy("applied"));
    for (const name of ["created", "applied"])
      expect(server.get("networking.k8s.io/v1", "NetworkPolicy", name, "default")!.spec).toEqual(spec);
    const ref = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      name: "created",
      namespace: "default",
    };
    expect((await api.get(ref))!.spec).toEqual(spec);
    expect((await api.list("networking.k8s.io/v1", "NetworkPolicy")).items.map((item) => item.spec)).toEqual([
      spec,
      spec,
    ]);
  });

  it("applies with our field manager, reads back, lists, deletes, and says undefined/false when absent", async () => {
    expect(await api.get(ref)).toBeUndefined();
    const applied = await api.apply(configMap({ a: "1" }), { force: true });
    expect(applied.data).toEqual({ a: "1" });
    const read = await api.get(ref);
    expect(read?.data).toEqual({ a: "1" });
    expect(read?.metadata.managedFields?.map((entry) => entry.manager)).toContain("aks-ipvlan");
    expect(
      (await api.list("v1", "ConfigMap", { namespace: "default" })).items.map((i) => i.metadata.name),
    ).toEqual(["c"]);
    expect(await api.delete(ref)).toBe(true);
    expect(await api.delete(ref)).toBe(false);
    expect(server.get("v1", "ConfigMap", "c", "default")).toBeUndefined();
  });

  it("a dry-run apply stores nothing", async () => {
    await api.apply(configMap({ a: "1" }), { dryRun: true, force: true });
    expect(server.get("v1", "ConfigMap", "c", "default")).toBeUndefined();
  });

  it("waits through a watch for a state another actor writes", async () => {
    server.put(configMap({ ready: "no" }));
    const waiting = waitFor(
      api,
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: "default",
        fieldSelector: "metadata.name=c",
        what: "c",
      },
      (items) => ({ done: items[0]?.data?.["ready" as never] === "yes", progress: "" }),
      { timeoutMs: 10_000 },
    );
    await expect
      .poll(() => server.requests.some((r) => r.query.get("watch") === "true"), { timeout: 10_000 })
      .toBe(true);
    server.put(configMap({ ready: "yes" }));
    const [done] = await waiting;
    expect(done?.data).toEqual({ ready: "yes" });
  });

  it("reports an unreachable API server as ClusterUnreachableError", async () => {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: "x", server: "http://127.0.0.1:1", skipTLSVerify: true }],
      users: [{ name: "x", token: "t" }],
      contexts: [{ name: "x", cluster: "x", user: "x" }],
      currentContext: "x",
    });
    await expect(connect(config).get(ref)).rejects.toBeInstanceOf(ClusterUnreachableError);
  });
});
