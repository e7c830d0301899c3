// The CLI's and controller's Kubernetes client (src/kube/client.ts) over the wire against the REAL
// kube-apiserver (test/realkube), as the admin, in a namespace of this file's own: wire field names,
// server-side apply with our field manager, dry run, delete, and a wait that a watch ends.
import { beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { connect, ClusterUnreachableError, type KubeApi } from "../../src/kube/client.ts";
import { KubeConfig } from "@kubernetes/client-node";
import { waitFor } from "../../src/kube/wait.ts";
import { adminApi } from "../realkube/cluster.ts";

const api = adminApi();
const namespace = `client-${randomBytes(3).toString("hex")}`;
beforeAll(async () => {
  await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
});

const configMap = (name: string, data: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace },
  data,
});
const ref = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", name, namespace });

describe("the Kubernetes client against the real API server", () => {
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
      metadata: { name, namespace },
      spec,
    });
    // The API server defaults a port's protocol; everything we wrote comes back under its wire name.
    const stored = { ...spec, ingress: [{ ...spec.ingress[0], ports: [{ port: "http", protocol: "TCP" }] }] };
    expect((await api.create(policy("created"))).spec).toEqual(stored);
    expect((await api.apply(policy("applied"))).spec).toEqual(stored);
    const policyRef = { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", namespace };
    for (const name of ["created", "applied"])
      expect((await api.get({ ...policyRef, name }))!.spec).toEqual(stored);
    const listed = await api.list("networking.k8s.io/v1", "NetworkPolicy", { namespace });
    expect(listed.items.map((item) => [item.metadata.name, item.spec])).toEqual([
      ["applied", stored],
      ["created", stored],
    ]);
  });

  it("applies with our field manager, reads back, lists, deletes, and says undefined/false when absent", async () => {
    expect(await api.get(ref("c"))).toBeUndefined();
    const applied = await api.apply(configMap("c", { a: "1" }), { force: true });
    expect(applied.data).toEqual({ a: "1" });
    const read = await api.get(ref("c"));
    expect(read?.data).toEqual({ a: "1" });
    expect(read?.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: "aks-ipvlan", operation: "Apply" }),
    );
    expect((await api.list("v1", "ConfigMap", { namespace })).items.map((i) => i.metadata.name)).toContain(
      "c",
    );
    expect(await api.delete(ref("c"))).toBe(true);
    expect(await api.delete(ref("c"))).toBe(false);
    expect(await api.get(ref("c"))).toBeUndefined();
  });

  it("a dry-run apply is judged and stores nothing", async () => {
    const judged = await api.apply(configMap("dry", { a: "1" }), { dryRun: true, force: true });
    expect(judged.data).toEqual({ a: "1" });
    expect(await api.get(ref("dry"))).toBeUndefined();
  });

  it("waits through a watch for a state another actor writes", async () => {
    await api.create(configMap("w", { ready: "no" }));
    let watching = false;
    const observed: KubeApi = {
      ...api,
      watch: (...args) => {
        watching = true;
        return api.watch(...args);
      },
    };
    const waiting = waitFor(
      observed,
      { apiVersion: "v1", kind: "ConfigMap", namespace, fieldSelector: "metadata.name=w", what: "w" },
      (items) => ({ done: items[0]?.data?.["ready" as never] === "yes", progress: "" }),
      { timeoutMs: 20_000 },
    );
    // The watch starts from the list's resourceVersion: a write after it was asked for reaches it.
    await expect.poll(() => watching).toBe(true);
    await api.mergePatch(ref("w"), { data: { ready: "yes" } });
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
    await expect(connect(config).get(ref("c"))).rejects.toBeInstanceOf(ClusterUnreachableError);
  });
});
