// The agent's own Kubernetes client (src/kube/rest-client.ts) over the wire. Against the REAL
// kube-apiserver (test/realkube, over TLS): get, list with selectors, a rotated service-account token,
// a kubeconfig with a client certificate, and a real 403 (test/kube/agent-rbac.test.ts has the
// agent's role and the CA checks). Against the in-test API server (test/apiserver), what the real one
// cannot be made to do on demand: bookmarks every 50 ms, 410 after a compaction, an injected 500.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ADMIN_TOKEN, type ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import { tempDir } from "../fakes/temp-dir.ts";
import { restClient } from "../../src/kube/rest-client.ts";
import { inClusterRestConfig, restConfigFromKubeconfig } from "../../src/kube/rest-config.ts";
import type { KubeReader, WatchEvent } from "../../src/kube/api.ts";
import { ClusterUnreachableError, KubeApiError } from "../../src/kube/errors.ts";
import { Informer, type InformerEvent } from "../../src/kube/informer.ts";
import { UserError } from "../../src/errors/user-error.ts";
import { adminApi, realKube, serviceAccountToken } from "../realkube/cluster.ts";

const node = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels },
});
const pod = (name: string, nodeName: string, labels: Record<string, string> = {}, namespace = "default") => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, labels },
  spec: { nodeName, containers: [{ name: "c", image: "busybox" }] },
});

async function until(what: string, condition: () => boolean): Promise<void> {
  await expect.poll(condition, { timeout: 10_000, message: what }).toBe(true);
}

describe("the agent's REST client against the real API server", () => {
  const admin = adminApi();
  const id = randomBytes(3).toString("hex");
  const namespace = `rest-${id}`;
  const [node1, node2] = [`rest-${id}-1`, `rest-${id}-2`];
  let client: KubeReader;
  beforeAll(async () => {
    const { url, ca, admin: certificate } = realKube();
    client = restClient({ server: url, ca, clientCertificate: certificate });
    await admin.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    // The ServiceAccount admission plugin needs the namespace's default account, which the
    // controller-manager (not run here) would create.
    await admin.create({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "default", namespace },
    });
    await admin.create(node(node1, { zone: "1" }));
    await admin.create(node(node2));
    await admin.create(pod("a", node1, { app: "web" }, namespace));
    await admin.create(pod("b", node1, { app: "db" }, namespace));
    await admin.create(pod("c", node2, { app: "web" }, namespace));
    return async () => {
      for (const name of [node1, node2]) await admin.delete({ apiVersion: "v1", kind: "Node", name });
    };
  });

  it("gets an object, or undefined when it does not exist", async () => {
    expect(await client.get({ apiVersion: "v1", kind: "Node", name: node1 })).toMatchObject({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: node1, labels: { zone: "1" } },
    });
    expect(await client.get({ apiVersion: "v1", kind: "Node", name: `${node1}-ghost` })).toBeUndefined();
    expect((await client.get({ apiVersion: "v1", kind: "Pod", name: "a", namespace }))?.metadata.name).toBe(
      "a",
    );
  });

  it("lists with field and label selectors, cluster-wide and in a namespace", async () => {
    const names = async (options: Parameters<KubeReader["list"]>[2]) =>
      (await client.list("v1", "Pod", options)).items.map((item) => item.metadata.name);
    expect(await names({ fieldSelector: `spec.nodeName=${node1}` })).toEqual(["a", "b"]);
    expect(await names({ namespace, labelSelector: "app=web" })).toEqual(["a", "c"]);
    expect(
      await names({ namespace, fieldSelector: `spec.nodeName=${node1}`, labelSelector: "app=web" }),
    ).toEqual(["a"]);
    const list = await client.list("networking.k8s.io/v1", "NetworkPolicy", { namespace });
    expect(list.items).toEqual([]);
    expect(list.resourceVersion).toMatch(/^\d+$/);
  });

  it("reads the token before every request, so a rotated service-account token is used", async () => {
    const dir = await tempDir("rest-token-");
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "expired-token\n");
    await writeFile(join(dir, "ca.crt"), realKube().ca);
    const [host, port] = new URL(realKube().url).host.split(":");
    const config = await inClusterRestConfig(
      { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port },
      dir,
    );
    const rotating = restClient(config);
    const read = () => rotating.get({ apiVersion: "v1", kind: "Node", name: node1 });
    await expect(read()).rejects.toThrow(/refused our credentials \(401\)/);
    // A service account that exists, with no role bound: authenticated, then a real 403.
    await admin.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "nobody", namespace } });
    await writeFile(tokenFile, `${await serviceAccountToken(namespace, "nobody")}\n`);
    const forbidden = await read().catch((error: unknown) => error);
    expect(forbidden).toBeInstanceOf(KubeApiError);
    expect(forbidden).toMatchObject({ code: 403, status: { reason: "Forbidden" } });
    await writeFile(tokenFile, "expired-token\n");
    await expect(read()).rejects.toThrow(ClusterUnreachableError);
  });

  it("reads a kubeconfig (server, CA and client certificate files) and refuses credential plugins it cannot run", async () => {
    const fromFile = restClient(await restConfigFromKubeconfig(realKube().kubeconfig));
    expect((await fromFile.get({ apiVersion: "v1", kind: "Node", name: node1 }))?.metadata.name).toBe(node1);
    const dir = await tempDir("rest-kubeconfig-");
    const file = join(dir, "config");
    const plugin = { exec: { command: "kubelogin", apiVersion: "client.authentication.k8s.io/v1beta1" } };
    await writeFile(
      file,
      JSON.stringify({
        clusters: [{ name: "c", cluster: { server: realKube().url } }],
        users: [{ name: "u", user: plugin }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const refused = await restConfigFromKubeconfig(file).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UserError);
    expect((refused as Error).message).toMatch(/does not run exec credential plugins/);
  });
});

describe("the agent's REST client against the in-test API server", () => {
  const kube = useInTestApiServer();
  let server: ApiServer;
  let client: KubeReader;
  const stops: AbortController[] = [];
  beforeEach(() => {
    server = kube.server;
    client = restClient({ server: server.url, token: async () => ADMIN_TOKEN });
  });
  afterEach(() => {
    stops.splice(0).forEach((stop) => stop.abort());
  });

  it("watches from a resourceVersion: changes that match, and bookmarks", async () => {
    const { resourceVersion } = await client.list("v1", "Pod", { fieldSelector: "spec.nodeName=node1" });
    const events: WatchEvent[] = [];
    const stream = client.watch(
      "v1",
      "Pod",
      { fieldSelector: "spec.nodeName=node1", resourceVersion },
      (event) => events.push(event),
    );
    try {
      server.put(pod("other", "node2"));
      server.put(pod("mine", "node1"));
      server.remove("v1", "Pod", "mine", "default");
      await until("the deletion", () => events.some((event) => event.type === "DELETED"));
      await until("a bookmark", () => events.some((event) => event.type === "BOOKMARK"));
      const changes = events.filter((event) => event.type !== "BOOKMARK");
      expect(changes.map((event) => [event.type, event.object.metadata.name])).toEqual([
        ["ADDED", "mine"],
        ["DELETED", "mine"],
      ]);
      const bookmark = events.find((event) => event.type === "BOOKMARK")!;
      expect(Number(bookmark.object.metadata.resourceVersion)).toBeGreaterThan(Number(resourceVersion));
    } finally {
      stream.stop();
    }
    await stream.ended;
  });

  it("hands a too-old resourceVersion's ERROR 410 to the informer, which relists and reports what it missed", async () => {
    server.put(node("a"));
    server.put(node("b"));
    const watches: string[] = [];
    let current: ReturnType<KubeReader["watch"]> | undefined;
    const droppable: KubeReader = {
      ...client,
      watch: (apiVersion, kind, options, onEvent) => {
        watches.push(options.resourceVersion);
        current = client.watch(apiVersion, kind, options, onEvent);
        return current;
      },
    };
    const events: Array<[InformerEvent, string]> = [];
    const informer = new Informer(droppable, "v1", "Node", {
      onEvent: (type, object) => events.push([type, object.metadata.name]),
      backoffMs: 10,
    });
    const stop = new AbortController();
    stops.push(stop);
    const running = informer.run(stop.signal);
    await until("listed and watching", () => informer.objects.size === 2 && watches.length === 1);
    server.remove("v1", "Node", "a");
    server.compact();
    current!.stop();
    server.put(node("c"));
    await until("relisted", () => informer.relists === 2 && informer.objects.has("c"));
    expect([...informer.objects.keys()].sort()).toEqual(["b", "c"]);
    expect(events).toContainEqual(["DELETED", "a"]);
    stop.abort();
    await running;
  });

  it("maps failures: 500 to KubeApiError, a closed port to ClusterUnreachableError", async () => {
    server.failNext((method, path) => method === "GET" && path === "/api/v1/nodes", 500);
    await expect(client.list("v1", "Node")).rejects.toMatchObject({ code: 500 });
    const closed = restClient({ server: "http://127.0.0.1:1", token: async () => ADMIN_TOKEN });
    const error = await closed.list("v1", "Node").catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ClusterUnreachableError);
    expect((error as Error).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  });
});

describe("the agent's in-cluster configuration", () => {
  it("builds the in-cluster address from KUBERNETES_SERVICE_HOST/PORT, bracketing IPv6", async () => {
    const dir = await tempDir("rest-sa-");
    await writeFile(join(dir, "ca.crt"), "PEM");
    await writeFile(join(dir, "token"), "t");
    expect(
      (
        await inClusterRestConfig(
          { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
          dir,
        )
      ).server,
    ).toBe("https://10.0.0.1:443");
    const v6 = await inClusterRestConfig({ KUBERNETES_SERVICE_HOST: "fd00::1" }, dir);
    expect(v6).toMatchObject({ server: "https://[fd00::1]:443", ca: "PEM" });
    expect(await v6.token?.()).toBe("t");
  });
});
