import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type V1Node,
} from "@kubernetes/client-node";
import { startApiServer, type ApiServer } from "./server.ts";

let server: ApiServer;
beforeEach(async () => {
  server = await startApiServer({ bookmarkIntervalMs: 50 });
});
afterEach(async () => {
  await server.close();
});

function node(name: string): V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    status: { addresses: [{ type: "InternalIP", address: "10.224.0.4" }] },
  };
}

describe("in-test API server through @kubernetes/client-node", () => {
  it("creates, gets, lists with selectors and refuses duplicates", async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNode({ body: { ...node("n1"), metadata: { name: "n1", labels: { pool: "a" } } } });
    await core.createNode({ body: node("n2") });
    expect((await core.listNode({ labelSelector: "pool=a" })).items.map((n) => n.metadata?.name)).toEqual([
      "n1",
    ]);
    expect((await core.listNode({ fieldSelector: "metadata.name=n2" })).items).toHaveLength(1);
    await expect(core.createNode({ body: node("n1") })).rejects.toMatchObject({ code: 409 });
    await expect(core.readNode({ name: "missing" })).rejects.toMatchObject({ code: 404 });
  });

  it("rejects a merge patch carrying a stale resourceVersion with 409", async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    const created = await core.createNode({ body: node("n1") });
    const version = created.metadata!.resourceVersion!;
    const patch = (value: string) =>
      core.patchNode(
        { name: "n1", body: { metadata: { resourceVersion: version, annotations: { a: value } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    await patch("1");
    const second = await patch("2").then(
      () => "accepted",
      (error: { code?: number }) => error.code,
    );
    expect(second).toBe(409);
  });

  it("streams watch events from a resourceVersion, sends bookmarks, and answers 410 after compaction", async () => {
    const config = server.kubeConfig();
    const core = config.makeApiClient(CoreV1Api);
    const start = (await core.listNode()).metadata!.resourceVersion!;
    const seen: string[] = [];
    const watch = new Watch(config);
    let resolveBookmark: () => void;
    const bookmark = new Promise<void>((resolve) => (resolveBookmark = resolve));
    let resolveAdded: () => void;
    const added = new Promise<void>((resolve) => (resolveAdded = resolve));
    const request = await watch.watch(
      "/api/v1/nodes",
      { resourceVersion: start, allowWatchBookmarks: true },
      (type, object: KubernetesObject) => {
        seen.push(`${type} ${object.metadata?.name ?? ""}`);
        if (type === "ADDED") resolveAdded();
        if (type === "BOOKMARK") resolveBookmark();
      },
      () => undefined,
    );
    await core.createNode({ body: node("n1") });
    await added;
    await bookmark;
    request.abort();
    expect(seen.filter((event) => !event.startsWith("BOOKMARK"))).toEqual(["ADDED n1"]);

    server.compact();
    const errors: number[] = [];
    await new Promise<void>((resolve) => {
      void watch.watch(
        "/api/v1/nodes",
        { resourceVersion: start },
        (type, object: { code?: number }) => {
          if (type === "ERROR") errors.push(object.code ?? 0);
        },
        () => resolve(),
      );
    });
    expect(errors).toEqual([410]);
  });

  it("server-side apply: creates, is idempotent, and reports conflicts with another manager unless forced", async () => {
    const config = server.kubeConfig();
    const objects = KubernetesObjectApi.makeApiClient(config);
    const apps = config.makeApiClient(AppsV1Api);
    const daemonSet: KubernetesObject & {
      spec: {
        selector: object;
        template: { metadata: object; spec: { containers: { name: string; image: string }[] } };
      };
    } = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agent", namespace: "kube-system" },
      spec: {
        selector: { matchLabels: { app: "a" } },
        template: { metadata: { labels: { app: "a" } }, spec: { containers: [{ name: "c", image: "one" }] } },
      },
    };
    const first = await objects.patch(
      daemonSet,
      undefined,
      undefined,
      "aks-ipvlan",
      true,
      PatchStrategy.ServerSideApply,
    );
    const again = await objects.patch(
      daemonSet,
      undefined,
      undefined,
      "aks-ipvlan",
      true,
      PatchStrategy.ServerSideApply,
    );
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);

    const changed = structuredClone(daemonSet);
    changed.spec.template.spec.containers[0]!.image = "two";
    await expect(
      objects.patch(changed, undefined, undefined, "someone-else", false, PatchStrategy.ServerSideApply),
    ).rejects.toMatchObject({ code: 409 });
    await objects.patch(changed, undefined, undefined, "someone-else", true, PatchStrategy.ServerSideApply);
    const read = await apps.readNamespacedDaemonSet({ name: "agent", namespace: "kube-system" });
    expect(read.spec?.template.spec?.containers[0]?.image).toBe("two");
  });

  it("keeps status on main-resource writes and changes only status through /status", async () => {
    const apps = server.kubeConfig().makeApiClient(AppsV1Api);
    server.put({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agent", namespace: "kube-system" },
      spec: { selector: {} },
      status: { numberReady: 3 },
    });
    const read = await apps.readNamespacedDaemonSet({ name: "agent", namespace: "kube-system" });
    await apps.replaceNamespacedDaemonSet({
      name: "agent",
      namespace: "kube-system",
      body: { ...read, status: { numberReady: 0 } as never },
    });
    expect(
      (await apps.readNamespacedDaemonSet({ name: "agent", namespace: "kube-system" })).status?.numberReady,
    ).toBe(3);
  });
});
