// Block allocation details end to end: pinned blocks, more blocks for full nodes, and the dry run.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiServer } from "../apiserver/server.ts";
import type { FakeArm } from "../arm/server.ts";
import type { ArmOptions } from "../../src/azure/arm-client.ts";
import type { ClusterSpec } from "../../src/spec/schema.ts";
import { BlockController } from "../../src/controller/controller.ts";
import { ControllerMetrics } from "../../src/controller/metrics.ts";
import { VxlanRouting } from "../../src/controller/vxlan.ts";
import { dryRun } from "../../src/controller/run.ts";
import { BLOCKS_ANNOTATION } from "../../src/ipam/annotation.ts";
import {
  addNode,
  blocksByNode,
  nodeIp,
  ROUTE_TABLE,
  silentLog,
  startArm,
  testSpec,
  until,
} from "./harness.ts";
import { useTestCluster } from "./cluster.ts";

const cluster = useTestCluster();
let server: ApiServer;
beforeEach(() => {
  server = cluster.server;
});

function start(spec: ClusterSpec): void {
  const controller = new BlockController({
    spec,
    api: cluster.api,
    metrics: new ControllerMetrics(),
    log: silentLog,
    record: () => undefined,
    routing: new VxlanRouting(),
    podResyncMs: 50,
  });
  cluster.spawn((signal) => controller.run(signal));
}

function addPods(node: string, count: number, hostNetwork = false): void {
  for (let i = 0; i < count; i++) {
    server.put({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `${node}-${hostNetwork ? "host" : "pod"}-${i}`, namespace: "default" },
      spec: { nodeName: node, hostNetwork },
      status: { phase: "Running" },
    });
  }
}

describe("block allocation", () => {
  it("gives a pinned node its pinned block and others the lowest free ones", async () => {
    start(testSpec({ nodes: [{ name: "node-1", ip: nodeIp(1), block: "10.241.0.160/28" }] }));
    addNode(server, "node-0", nodeIp(0));
    addNode(server, "node-1", nodeIp(1));
    await until("both have blocks", () => [...blocksByNode(server).values()].every((b) => b.length === 1));
    expect(blocksByNode(server).get("node-1")).toEqual(["10.241.0.160/28"]);
    expect(blocksByNode(server).get("node-0")).toEqual(["10.241.0.16/28"]);
  });

  it("adds a block when a node's pods fill its blocks, up to maxBlocksPerNode, and not for host-network pods", async () => {
    start(testSpec({ maxBlocksPerNode: 2 }));
    addNode(server, "node-0", nodeIp(0));
    await until("one block", () => blocksByNode(server).get("node-0")?.length === 1);
    addPods("node-0", 20, true);
    addPods("node-0", 15);
    // A pass ran after the pods were counted (a pod list followed the last pod) and kept one block.
    const lists = () => server.requests.filter((r) => r.method === "GET" && r.path === "/api/v1/pods").length;
    const seen = lists();
    await until("pods counted twice more", () => lists() >= seen + 2);
    expect(blocksByNode(server).get("node-0")).toHaveLength(1);

    addPods("node-0", 16);
    await until("a second block", () => blocksByNode(server).get("node-0")?.length === 2);
    addPods("node-0", 40);
    const more = lists();
    await until("pods counted twice more", () => lists() >= more + 2);
    expect(blocksByNode(server).get("node-0")).toHaveLength(2);
  });

  describe("dry run", () => {
    let arm: FakeArm;
    let armOptions: ArmOptions;
    beforeEach(async () => {
      ({ arm, options: armOptions } = await startArm());
    });
    afterEach(() => arm.stop());

    it("prints the annotations and az commands it would run, and writes nothing", async () => {
      const spec = testSpec({ controller: { routeTable: ROUTE_TABLE } });
      addNode(server, "node-0", nodeIp(0));
      server.put({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "node-1", annotations: { [BLOCKS_ANNOTATION]: "10.241.0.32/28" } },
        status: { addresses: [{ type: "InternalIP", address: nodeIp(1) }] },
      });
      arm.tables.get("1d2c3b4a-0000-4000-8000-00000000a1b2/mc_rg/rt")!.set("aks-ipvlan-aks-10-241-9-0-28", {
        addressPrefix: "10.241.9.0/28",
        nextHopType: "VirtualAppliance",
        nextHopIpAddress: "10.224.0.99",
      });
      const writesBefore = server.writes().length;

      const text = await dryRun(spec, cluster.api, armOptions);

      expect(text.split("\n")).toEqual([
        `# would annotate node node-0: ${BLOCKS_ANNOTATION}=10.241.0.16/28`,
        "az network route-table route create --subscription 1d2c3b4a-0000-4000-8000-00000000a1b2 --resource-group MC_rg --route-table-name rt --name aks-ipvlan-aks-10-241-0-16-28 --address-prefix 10.241.0.16/28 --next-hop-type VirtualAppliance --next-hop-ip-address 10.224.0.4",
        "az network route-table route create --subscription 1d2c3b4a-0000-4000-8000-00000000a1b2 --resource-group MC_rg --route-table-name rt --name aks-ipvlan-aks-10-241-0-32-28 --address-prefix 10.241.0.32/28 --next-hop-type VirtualAppliance --next-hop-ip-address 10.224.0.5",
        "az network route-table route delete --subscription 1d2c3b4a-0000-4000-8000-00000000a1b2 --resource-group MC_rg --route-table-name rt --name aks-ipvlan-aks-10-241-9-0-28",
        "",
      ]);
      expect(server.writes()).toHaveLength(writesBefore);
      expect(arm.requests.filter((r) => r.method !== "GET")).toEqual([]);
      expect(arm.tables.get("1d2c3b4a-0000-4000-8000-00000000a1b2/mc_rg/rt")!.size).toBe(1);
    });
  });
});
