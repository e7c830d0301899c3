import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startApiServer, type ApiServer } from "../../test/apiserver/server.ts";
import { restClient } from "../kube/rest-client.ts";
import { clusterView } from "./kube.ts";

let server: ApiServer;
beforeEach(async () => {
  server = await startApiServer({ bookmarkIntervalMs: 50 });
});
afterEach(async () => {
  await server.close();
});

/** The agent's own client, as --kube uses it. */
const api = () => restClient({ server: server.url, token: async () => ADMIN_TOKEN });

function node(name: string, blocks?: string) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, ...(blocks === undefined ? {} : { annotations: { "aks-ipvlan.io/blocks": blocks } }) },
    status: {
      addresses: [
        { type: "Hostname", address: name },
        { type: "InternalIP", address: "10.224.0.9" },
      ],
    },
  };
}

function pod(name: string, nodeName: string, phase: string, ip?: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: { nodeName, containers: [{ name: "c", image: "busybox" }] },
    status: { phase, ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}) },
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Until the view's informer has started its watch (changes before it would be part of the list). */
const watching = () =>
  until(
    () => server.requests.some((r) => r.query.get("watch") === "true" || r.query.get("watch") === "1"),
    "watch",
  );

describe("clusterView", () => {
  it("reads the node's InternalIP and blocks annotation", async () => {
    server.put(node("node9", "10.224.0.64/28, 10.224.0.80/28"));
    const view = clusterView("node9", api());
    expect(await view.facts()).toEqual({
      internalIp: "10.224.0.9",
      blocks: ["10.224.0.64/28", "10.224.0.80/28"],
    });
    server.put(node("node9"));
    expect(await view.facts()).toEqual({ internalIp: "10.224.0.9", blocks: [] });
  });

  it("fails clearly for a node the cluster does not have", async () => {
    await expect(clusterView("ghost", api()).facts()).rejects.toThrow(/node ghost does not exist/);
  });

  it("wakes the reconcile when its Node changes, not when another node does", async () => {
    server.put(node("node9"));
    server.put(node("node8"));
    const view = clusterView("node9", api());
    let changes = 0;
    const stop = view.watchNode(() => changes++);
    try {
      await watching();
      server.put(node("node8", "10.224.0.96/28"));
      server.put(node("node9", "10.224.0.64/28"));
      await until(() => changes > 0, "a change event");
      expect(changes).toBe(1);
    } finally {
      stop();
    }
  });

  it("lists every node's address and blocks for the overlay, and follows joins and leaves", async () => {
    server.put(node("node9", "10.241.0.64/28"));
    server.put(node("node8"));
    const view = clusterView("node9", api());
    expect(await view.peers()).toEqual([
      { name: "node8", ip: "10.224.0.9", blocks: [] },
      { name: "node9", ip: "10.224.0.9", blocks: ["10.241.0.64/28"] },
    ]);
    let changes = 0;
    const stop = view.watchPeers(() => changes++);
    try {
      await watching();
      server.put(node("node7", "10.241.0.96/28"));
      await until(() => changes > 0, "a join");
      expect(await view.peers()).toContainEqual({
        name: "node7",
        ip: "10.224.0.9",
        blocks: ["10.241.0.96/28"],
      });
      server.remove("v1", "Node", "node8");
      await until(() => changes > 1, "a leave");
      expect((await view.peers()).map((peer) => peer.name).sort()).toEqual(["node7", "node9"]);
    } finally {
      stop();
    }
  });

  it("lists the Nodes once at start, in pages: the reconcile waits for the informer's list", async () => {
    for (let index = 0; index < 1001; index++)
      server.put(node(`node${index}`, `10.241.${index >> 4}.${(index & 15) * 16}/28`));
    const view = clusterView("node9", api());
    const stop = view.watchPeers(() => undefined);
    try {
      const peers = await view.peers();
      expect(peers).toHaveLength(1001);
      expect(peers.find((peer) => peer.name === "node1000")?.blocks).toEqual(["10.241.62.128/28"]);
      const lists = server.requests.filter(
        (r) =>
          r.method === "GET" &&
          r.path === "/api/v1/nodes" &&
          !["true", "1"].includes(r.query.get("watch") ?? ""),
      );
      expect(lists.map((r) => [r.query.get("limit"), r.query.get("continue")])).toEqual([
        ["500", null],
        ["500", "500"],
        ["500", "1000"],
      ]);
    } finally {
      stop();
    }
  });

  it("counts as live only addresses of running or starting pods bound to this node", async () => {
    server.put(pod("a", "node9", "Running", "10.224.0.65"));
    server.put(pod("b", "node9", "Pending"));
    server.put(pod("c", "node9", "Succeeded", "10.224.0.66"));
    server.put(pod("d", "node8", "Running", "10.224.0.97"));
    const view = clusterView("node9", api());
    expect([...(await view.livePods.podIps())]).toEqual(["10.224.0.65"]);
  });
});
