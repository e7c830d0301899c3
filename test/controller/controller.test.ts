// The controller end to end against the in-test API server and ARM endpoint.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiServer } from "../apiserver/server.ts";
import type { FakeArm } from "../arm/server.ts";
import type { ArmOptions } from "../../src/azure/arm-client.ts";
import { runController } from "../../src/controller/run.ts";
import { microTime } from "../../src/controller/leader.ts";
import { ControllerMetrics } from "../../src/controller/metrics.ts";
import { routeName } from "../../src/routes/routes.ts";
import { parseLedger } from "../../src/controller/ledger.ts";
import { LEASE_NAME, LEDGER_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import {
  addNode,
  blocksByNode,
  nodeIp,
  ROUTE_TABLE,
  silentLog,
  startArm,
  testSpec,
  until,
  whenServerSees,
} from "./harness.ts";
import { useTestCluster } from "./cluster.ts";

const timings = { leaseDurationMs: 1_500, renewDeadlineMs: 1_000, retryPeriodMs: 100 };

const cluster = useTestCluster();
let server: ApiServer;
let arm: FakeArm;
let armOptions: ArmOptions;

beforeEach(async () => {
  server = cluster.server;
  ({ arm, options: armOptions } = await startArm());
});
afterEach(() => arm.stop());

function start(
  identity: string,
  extra: { releaseGraceMs?: number; spec?: Parameters<typeof testSpec>[0] } = {},
) {
  const spec = testSpec(extra.spec ?? { controller: { routeTable: ROUTE_TABLE } });
  const metrics = new ControllerMetrics();
  const stop = cluster.spawn((signal) =>
    runController(
      {
        spec,
        api: cluster.api,
        log: silentLog,
        metrics,
        identity,
        arm: armOptions,
        timings,
        tuning: { releaseGraceMs: extra.releaseGraceMs ?? 60_000, resyncMs: 200 },
      },
      signal,
    ),
  );
  return { stop, metrics };
}

const routes = () =>
  arm.tables.get(
    `${ROUTE_TABLE.subscriptionId}/${ROUTE_TABLE.resourceGroup}/${ROUTE_TABLE.name}`.toLowerCase(),
  )!;
const leaseHolder = () =>
  (
    server.get("coordination.k8s.io/v1", "Lease", LEASE_NAME, NAMESPACE)?.spec as
      { holderIdentity?: string } | undefined
  )?.holderIdentity;

const warnings = (reason: string, node: string) =>
  server
    .list("v1", "Event", "default")
    .filter(
      (event) =>
        event.reason === reason && (event.involvedObject as { name?: string } | undefined)?.name === node,
    );
const forwardingWarnings = (node: string) => warnings("IPForwardingOff", node).length;
const armWrites = () => arm.requests.filter((request) => request.method !== "GET");
const routeLists = () =>
  arm.requests.filter((request) => request.method === "GET" && request.path.endsWith("/routes")).length;

describe("controller", () => {
  it("gives joining nodes blocks and routes with no hand-written config, and leaves foreign routes alone", async () => {
    routes().set("to-firewall", {
      addressPrefix: "0.0.0.0/0",
      nextHopType: "VirtualAppliance",
      nextHopIpAddress: "10.0.0.4",
    });
    const { metrics } = start("a");
    for (let i = 0; i < 5; i++) addNode(server, `node-${i}`, nodeIp(i));

    await until("every node has a block and a route", () => {
      const blocks = blocksByNode(server);
      return [...blocks.values()].every((b) => b.length === 1) && routes().size === 6;
    });
    const blocks = blocksByNode(server);
    expect(new Set([...blocks.values()].flat()).size).toBe(5);
    for (const [name, [block]] of blocks) {
      const route = routes().get(routeName("aks", block!));
      expect(route).toEqual({
        addressPrefix: block,
        nextHopType: "VirtualAppliance",
        nextHopIpAddress: nodeIp(Number(name.slice(5))),
      });
    }
    expect(routes().get("to-firewall")).toBeDefined();
    const ledger = parseLedger(
      server.get("v1", "ConfigMap", LEDGER_NAME, NAMESPACE)?.data as Record<string, string>,
    );
    expect([...ledger].sort()).toEqual([...blocks].map(([name, [block]]) => [block, name]).sort());

    await until("events for allocations and routes", () => {
      const reasons = server.list("v1", "Event", "default").map((event) => event.reason);
      return (
        reasons.filter((r) => r === "BlockAllocated").length === 5 &&
        reasons.filter((r) => r === "RouteCreated").length === 5
      );
    });
    const text = metrics.registry.text();
    expect(text).toMatch(/aks_ipvlan_controller_block_allocations_total 5/);
    expect(text).toMatch(/aks_ipvlan_controller_azure_calls_total\{operation="routes.createOrUpdate"\} 5/);
    expect(text).toMatch(/aks_ipvlan_controller_leader 1/);
  });

  it("keeps a removed node's block and route for the grace period, then frees both", async () => {
    start("a", { releaseGraceMs: 1_500 });
    addNode(server, "node-0", nodeIp(0));
    addNode(server, "node-1", nodeIp(1));
    await until("two routes", () => routes().size === 2);
    const [gone] = blocksByNode(server).get("node-0")!;

    server.remove("v1", "Node", "node-0");
    addNode(server, "node-2", nodeIp(2));
    await until("the new node has a block", () => (blocksByNode(server).get("node-2") ?? []).length === 1);
    expect(blocksByNode(server).get("node-2")).not.toEqual([gone]);
    expect(routes().has(routeName("aks", gone!))).toBe(true);

    await until("the route of the removed node is deleted", () => !routes().has(routeName("aks", gone!)));
    addNode(server, "node-3", nodeIp(3));
    await until(
      "the next node gets the freed block",
      () => (blocksByNode(server).get("node-3") ?? [])[0] === gone,
    );
    await until(
      "its route points at the new node",
      () => routes().get(routeName("aks", gone!))?.nextHopIpAddress === nodeIp(3),
    );
    expect(server.list("v1", "Event", "default").some((event) => event.reason === "RouteDeleted")).toBe(true);
  });

  it("re-checks every node's NIC at each resync: IP forwarding turned off later is reported", async () => {
    arm.nics.push({
      resourceGroup: "MC_rg",
      name: "node-0-nic",
      privateIp: nodeIp(0),
      enableIPForwarding: true,
    });
    start("a");
    addNode(server, "node-0", nodeIp(0));
    const nicReads = () =>
      arm.requests.filter((request) => request.path.includes("networkInterfaces")).length;
    await until("the node's NIC is checked", () => nicReads() > 0);
    expect(forwardingWarnings("node-0")).toBe(0);
    arm.nics[0]!.enableIPForwarding = false;
    await until("a resync finds the flag off and warns", () => forwardingWarnings("node-0") === 1);
  });

  it("forgets a deleted node: the same node joining again with the same problem is reported again", async () => {
    arm.nics.push({
      resourceGroup: "MC_rg",
      name: "node-0-nic",
      privateIp: nodeIp(0),
      enableIPForwarding: false,
    });
    start("a", { releaseGraceMs: 200 });
    addNode(server, "node-0", nodeIp(0));
    await until("the NIC without forwarding is reported", () => forwardingWarnings("node-0") === 1);
    server.remove("v1", "Node", "node-0");
    await until("the node's route is gone", () => routes().size === 0);
    addNode(server, "node-0", nodeIp(0));
    await until("reported again after it joined again", () => forwardingWarnings("node-0") === 2);
  });

  it("hands over leadership: one leader at a time, the other takes over when it leaves", async () => {
    const a = start("a");
    await until("a leads", () => leaseHolder() === "a");
    const b = start("b");
    addNode(server, "node-0", nodeIp(0));
    await until("node-0 has a block", () => (blocksByNode(server).get("node-0") ?? []).length === 1);
    expect(b.metrics.registry.text()).toMatch(/^aks_ipvlan_controller_leader 0$/m);
    expect(leaseHolder()).toBe("a");

    a.stop.abort();
    await until("b leads", () => leaseHolder() === "b");
    addNode(server, "node-1", nodeIp(1));
    await until(
      "node-1 has a block from the new leader",
      () => (blocksByNode(server).get("node-1") ?? []).length === 1,
    );
    const blocks = [...blocksByNode(server).values()].flat();
    expect(new Set(blocks).size).toBe(2);
    await until("both routes", () => routes().size === 2);
  });

  it("takes over a lease only once its holder stops renewing", async () => {
    const ghostLease = (renewTime: string) =>
      server.put({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "aks-ipvlan-controller", namespace: NAMESPACE },
        spec: {
          holderIdentity: "ghost",
          leaseDurationSeconds: 1,
          renewTime,
          acquireTime: renewTime,
          leaseTransitions: 3,
        },
      });
    ghostLease(microTime(Date.now()));
    addNode(server, "node-0", nodeIp(0));
    start("b");
    // The ghost renews for three lease durations (1 s each): b must stay a follower all along. Between
    // two renewals b reads the lease twice (its retry period is 100 ms), so every renewal is seen.
    const leaseReads = () =>
      server.requests.filter((r) => r.method === "GET" && r.path.endsWith(`/leases/${LEASE_NAME}`)).length;
    const renewedAt = Date.now();
    while (Date.now() - renewedAt < 3_000) {
      ghostLease(microTime(Date.now()));
      const seen = leaseReads();
      await whenServerSees(server, "b reads the lease twice", () => leaseReads() >= seen + 2);
      expect(leaseHolder()).toBe("ghost");
    }
    expect(blocksByNode(server).get("node-0")).toEqual([]);
    await until("b leads once the ghost stops renewing", () => leaseHolder() === "b");
    const lease = server.get("coordination.k8s.io/v1", "Lease", "aks-ipvlan-controller", NAMESPACE)!;
    expect((lease.spec as { leaseTransitions: number }).leaseTransitions).toBe(4);
    await until("node-0 has a block", () => (blocksByNode(server).get("node-0") ?? []).length === 1);
  });

  it("in vxlan mode allocates and annotates with no route table and not one Azure call", async () => {
    const { metrics } = start("a", { spec: { routing: { mode: "vxlan" } } });
    for (let i = 0; i < 3; i++) addNode(server, `node-${i}`, nodeIp(i));
    await until("every node has a block", () =>
      [...blocksByNode(server).values()].every((blocks) => blocks.length === 1),
    );
    expect(new Set([...blocksByNode(server).values()].flat()).size).toBe(3);
    // Time for resyncs (every 200 ms) to have called ARM if anything did: six lease renewals (100 ms).
    const renewals = () =>
      server.requests.filter((r) => r.method === "PATCH" && r.path.endsWith(`/leases/${LEASE_NAME}`)).length;
    const seen = renewals();
    await whenServerSees(server, "six more lease renewals", () => renewals() >= seen + 6);
    expect(arm.requests).toEqual([]);
    expect(metrics.registry.text()).not.toMatch(/azure_calls_total\{/);
  });

  it("in vnet mode fills the route table to routing.routeTableLimit, says so on the nodes left out, and keeps the table steady", async () => {
    routes().set("to-firewall", {
      addressPrefix: "0.0.0.0/0",
      nextHopType: "VirtualAppliance",
      nextHopIpAddress: "10.0.0.4",
    });
    const limit = 4;
    const { metrics } = start("a", {
      releaseGraceMs: 300,
      spec: { routing: { routeTableLimit: limit }, controller: { routeTable: ROUTE_TABLE } },
    });
    for (let i = 0; i < 5; i++) addNode(server, `node-${i}`, nodeIp(i));
    const full = (node: string) => warnings("RouteTableFull", node);
    const unrouted = () => [0, 1, 2, 3, 4].map((i) => `node-${i}`).filter((node) => full(node).length > 0);
    await until("three routes of ours and two nodes told the table is full", () => {
      return routes().size === limit && unrouted().length === 2;
    });
    const blocks = blocksByNode(server);
    const routed = [...blocks].filter(([name]) => !unrouted().includes(name));
    expect(routed).toHaveLength(3);
    for (const [name, [block]] of routed)
      expect(routes().get(routeName("aks", block!))?.nextHopIpAddress).toBe(nodeIp(Number(name.slice(5))));
    expect(routes().get("to-firewall")).toBeDefined();
    for (const node of unrouted()) {
      expect(full(node)).toHaveLength(1);
      const { message } = full(node)[0]!;
      expect(message).toContain(`no route for node block ${blocks.get(node)![0]}`);
      expect(message).toContain("routing.routeTableLimit 4");
      expect(message).toContain("routing.mode vxlan");
    }
    expect(metrics.registry.text()).toMatch(/^aks_ipvlan_controller_unrouted_blocks 2$/m);

    // Steady: three more resyncs change nothing, try no route that does not fit, and repeat no warning.
    const table = new Map(routes());
    const writes = armWrites().length;
    const lists = routeLists();
    await until("three more route table syncs", () => routeLists() >= lists + 3);
    expect(routes()).toEqual(table);
    expect(armWrites()).toHaveLength(writes);
    const tried = new Set(armWrites().map((request) => request.path.split("/").pop()));
    for (const node of unrouted()) expect(tried.has(routeName("aks", blocks.get(node)![0]!))).toBe(false);
    expect(unrouted().map((node) => full(node).length)).toEqual([1, 1]);

    // A routed node leaves: once its grace ends its route goes, and one node left out gets the room.
    const [leaving] = routed[0]!;
    server.remove("v1", "Node", leaving);
    await until("the left-out node with the lowest name gets the freed room", () =>
      routes().has(routeName("aks", blocks.get(unrouted()[0]!)![0]!)),
    );
    expect(routes().size).toBe(limit);
    expect(routes().has(routeName("aks", blocks.get(leaving)![0]!))).toBe(false);
    await until("the gauge follows", () =>
      /^aks_ipvlan_controller_unrouted_blocks 1$/m.test(metrics.registry.text()),
    );
  });
});
