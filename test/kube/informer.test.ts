// The node informer against the in-test API server (test/apiserver): watch with bookmarks, and a relist
// after 410 Expired that reports what changed while it was not watching, deletions included. Both need
// what the real API server does on its own clock (bookmarks about once a minute, compaction every 5
// minutes); the real server's list and watch are met in rest-client.test.ts and agent-rbac.test.ts.
import { beforeEach, describe, expect, it } from "vitest";
import type { ApiServer } from "../apiserver/server.ts";
import { connect, type KubeApi } from "../../src/kube/client.ts";
import { Informer, type InformerEvent } from "../../src/kube/informer.ts";
import { addNode, nodeIp, until } from "../controller/harness.ts";
import { useTestCluster } from "../controller/cluster.ts";

const cluster = useTestCluster();
let server: ApiServer;
beforeEach(() => {
  server = cluster.server;
});

/** The real client, with a handle to end the current watch stream as a dropped connection would. */
function droppableApi(): { api: KubeApi; drop: () => void; watches: string[]; bookmarks: string[] } {
  const api = connect(server.kubeConfig());
  const watches: string[] = [];
  const bookmarks: string[] = [];
  let current: ReturnType<KubeApi["watch"]> | undefined;
  return {
    watches,
    bookmarks,
    drop: () => current?.stop(),
    api: {
      ...api,
      watch: (apiVersion, kind, options, onEvent) => {
        watches.push(options.resourceVersion);
        current = api.watch(apiVersion, kind, options, (event) => {
          if (event.type === "BOOKMARK") bookmarks.push(event.object.metadata.resourceVersion ?? "");
          onEvent(event);
        });
        return current;
      },
    },
  };
}

describe("Informer", () => {
  it("follows bookmarks, and relists after 410 Expired, reporting the changes it missed", async () => {
    addNode(server, "a", nodeIp(0));
    addNode(server, "b", nodeIp(1));
    const { api, drop, watches } = droppableApi();
    const events: Array<[InformerEvent, string]> = [];
    const informer = new Informer(api, "v1", "Node", {
      onEvent: (type, node) => events.push([type, node.metadata.name]),
      backoffMs: 10,
    });
    cluster.spawn((signal) => informer.run(signal));
    await until("listed", () => informer.objects.size === 2);
    addNode(server, "c", nodeIp(2));
    await until("c seen by the watch", () => informer.objects.has("c"));
    expect(informer.relists).toBe(1);

    // Changes nobody watches, then history is compacted: the next watch from the old version gets 410.
    const watchesBefore = watches.length;
    server.remove("v1", "Node", "a");
    server.compact();
    drop();
    addNode(server, "d", nodeIp(3));
    await until("relisted", () => informer.relists === 2 && informer.objects.has("d"));
    expect(watches.length).toBeGreaterThan(watchesBefore);
    expect(informer.objects.has("a")).toBe(false);
    expect(events).toContainEqual(["DELETED", "a"]);
    expect([...informer.objects.keys()].sort()).toEqual(["b", "c", "d"]);
  });

  it("moves its resourceVersion on with bookmarks, so a reconnect needs no relist", async () => {
    addNode(server, "a", nodeIp(0));
    const { api, drop, watches, bookmarks } = droppableApi();
    const informer = new Informer(api, "v1", "Node", { onEvent: () => undefined, backoffMs: 10 });
    cluster.spawn((signal) => informer.run(signal));
    await until("listed", () => informer.objects.size === 1);
    // Unrelated writes advance the store's revision; only bookmarks tell the node watch about it.
    for (let i = 0; i < 3; i++)
      server.put({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `cm-${i}`, namespace: "default" },
      });
    const listedAt = Number(watches[0]);
    await until("a bookmark past the list", () => bookmarks.some((version) => Number(version) > listedAt));
    drop();
    await until("rewatched", () => watches.length === 2);
    expect(Number(watches[1])).toBeGreaterThan(listedAt);
    expect(informer.relists).toBe(1);
  });
});
