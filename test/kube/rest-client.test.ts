// The agent's own Kubernetes client (src/kube/rest-client.ts) over the wire against the in-test API
// server: get, list with selectors, watch with bookmarks, 410 → relist through the shared informer,
// a rotated token, TLS against a CA, and failures mapped to KubeApiError / ClusterUnreachableError.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ADMIN_TOKEN, startApiServer, type ApiServer } from "../apiserver/server.ts";
import { selfSignedCertificate } from "../arm/tls.ts";
import { tempDir } from "../fakes/temp-dir.ts";
import { restClient, type RestConfig } from "../../src/kube/rest-client.ts";
import { inClusterRestConfig, restConfigFromKubeconfig } from "../../src/kube/rest-config.ts";
import type { KubeReader, WatchEvent } from "../../src/kube/api.ts";
import { ClusterUnreachableError, KubeApiError } from "../../src/kube/errors.ts";
import { Informer, type InformerEvent } from "../../src/kube/informer.ts";
import { UserError } from "../../src/errors/user-error.ts";

let server: ApiServer;
let client: KubeReader;
const stops: AbortController[] = [];
beforeEach(async () => {
  server = await startApiServer({ bookmarkIntervalMs: 50 });
  client = restClient({ server: server.url, token: async () => ADMIN_TOKEN });
});
afterEach(async () => {
  stops.splice(0).forEach((stop) => stop.abort());
  await server.close();
});

const node = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels },
});
const pod = (name: string, nodeName: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default", labels },
  spec: { nodeName, containers: [{ name: "c", image: "busybox" }] },
});

async function until(what: string, condition: () => boolean): Promise<void> {
  await expect.poll(condition, { timeout: 10_000, message: what }).toBe(true);
}

describe("the agent's REST client", () => {
  it("gets an object, or undefined when it does not exist", async () => {
    server.put(node("node1", { zone: "1" }));
    const found = await client.get({ apiVersion: "v1", kind: "Node", name: "node1" });
    expect(found).toMatchObject({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node1", labels: { zone: "1" } },
    });
    expect(await client.get({ apiVersion: "v1", kind: "Node", name: "ghost" })).toBeUndefined();
    server.put(pod("p", "node1"));
    expect(
      (await client.get({ apiVersion: "v1", kind: "Pod", name: "p", namespace: "default" }))?.metadata.name,
    ).toBe("p");
  });

  it("lists with field and label selectors, cluster-wide and in a namespace", async () => {
    server.put(pod("a", "node1", { app: "web" }));
    server.put(pod("b", "node1", { app: "db" }));
    server.put(pod("c", "node2", { app: "web" }));
    const names = async (options: Parameters<KubeReader["list"]>[2]) =>
      (await client.list("v1", "Pod", options)).items.map((item) => item.metadata.name);
    expect(await names({ fieldSelector: "spec.nodeName=node1" })).toEqual(["a", "b"]);
    expect(await names({ labelSelector: "app=web" })).toEqual(["a", "c"]);
    expect(
      await names({ namespace: "default", fieldSelector: "spec.nodeName=node1", labelSelector: "app=web" }),
    ).toEqual(["a"]);
    const list = await client.list("networking.k8s.io/v1", "NetworkPolicy");
    expect(list.items).toEqual([]);
    expect(Number(list.resourceVersion)).toBeGreaterThan(0);
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

  it("reads the token before every request, so a rotated token is used", async () => {
    const dir = await tempDir("rest-token-");
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "expired-token\n");
    await writeFile(join(dir, "ca.crt"), "");
    const config = await inClusterRestConfig(
      { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "1" },
      dir,
    );
    const rotating = restClient({ ...config, server: server.url });
    server.put(node("node1"));
    const read = () => rotating.get({ apiVersion: "v1", kind: "Node", name: "node1" });
    await expect(read()).rejects.toThrow(ClusterUnreachableError);
    await expect(read()).rejects.toThrow(/refused our credentials \(401\)/);
    await writeFile(tokenFile, `${ADMIN_TOKEN}\n`);
    expect((await read())?.metadata.name).toBe("node1");
  });

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

  it("maps failures: 403 and 500 to KubeApiError, a closed port to ClusterUnreachableError", async () => {
    const account = restClient({ server: server.url, token: async () => "sa:kube-system:nobody" });
    const forbidden = await account
      .list("v1", "Pod", { namespace: "default" })
      .catch((error: unknown) => error);
    expect(forbidden).toBeInstanceOf(KubeApiError);
    expect(forbidden).toMatchObject({ code: 403, status: { reason: "Forbidden" } });
    server.failNext((method, path) => method === "GET" && path === "/api/v1/nodes", 500);
    await expect(client.list("v1", "Node")).rejects.toMatchObject({ code: 500 });
    const closed = restClient({ server: "http://127.0.0.1:1", token: async () => ADMIN_TOKEN });
    const error = await closed.list("v1", "Node").catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ClusterUnreachableError);
    expect((error as Error).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  });

  it("reads a kubeconfig (server, token) and refuses credential plugins it cannot run", async () => {
    server.put(node("node1"));
    const dir = await tempDir("rest-kubeconfig-");
    const file = join(dir, "config");
    await writeFile(file, server.kubeconfigYaml());
    const fromFile = restClient(await restConfigFromKubeconfig(file));
    expect((await fromFile.get({ apiVersion: "v1", kind: "Node", name: "node1" }))?.metadata.name).toBe(
      "node1",
    );
    const plugin = { exec: { command: "kubelogin", apiVersion: "client.authentication.k8s.io/v1beta1" } };
    await writeFile(
      file,
      server.kubeconfigYaml().replace(/"user":\{[^}]*\}/, `"user":${JSON.stringify(plugin)}`),
    );
    const refused = await restConfigFromKubeconfig(file).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UserError);
    expect((refused as Error).message).toMatch(/does not run exec credential plugins/);
  });
});

describe("the agent's REST client over TLS", () => {
  let tlsServer: ApiServer;
  let certificate: { cert: string; key: string };
  beforeEach(async () => {
    certificate = await selfSignedCertificate();
    tlsServer = await startApiServer({ tls: certificate });
    tlsServer.put(node("node1"));
  });
  afterEach(() => tlsServer.close());
  const read = (config: Omit<RestConfig, "server">) =>
    restClient({ server: tlsServer.url, token: async () => ADMIN_TOKEN, ...config }).get({
      apiVersion: "v1",
      kind: "Node",
      name: "node1",
    });

  it("trusts the server whose certificate chains to the given CA, and no other", async () => {
    expect(tlsServer.url).toMatch(/^https:/);
    expect((await read({ ca: certificate.cert }))?.metadata.name).toBe("node1");
    const untrusted = await read({}).catch((error: unknown) => error);
    expect(untrusted).toBeInstanceOf(ClusterUnreachableError);
    expect((untrusted as Error).message).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    const other = await selfSignedCertificate();
    await expect(read({ ca: other.cert })).rejects.toThrow(ClusterUnreachableError);
    expect((await read({ insecureSkipTlsVerify: true }))?.metadata.name).toBe("node1");
  });
});
