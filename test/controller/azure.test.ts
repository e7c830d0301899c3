// The Azure side against the in-test ARM server: the real SDK, over https, with long-running operations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenCredential } from "@azure/identity";
import { FakeArm } from "../arm/server.ts";
import { selfSignedCertificate } from "../arm/tls.ts";
import { networkClient } from "../../src/azure/arm-client.ts";
import { ArmRouteTable } from "../../src/azure/route-table.ts";
import { syncRoutes } from "../../src/routes/sync.ts";
import { NicChecker } from "../../src/azure/nics.ts";
import { routeFor } from "../../src/routes/routes.ts";
import { validateSpec } from "../../src/spec/load.ts";

const credential: TokenCredential = {
  getToken: async () => ({ token: "test-token", expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const spec = validateSpec({ name: "aks", nodeSubnet: "10.224.0.0/16", podPool: ["10.241.0.0/16"] });
const ref = { subscriptionId: "1d2c3b4a-0000-4000-8000-00000000a1b2", resourceGroup: "MC_rg", name: "rt" };

describe("Azure route table and NICs through the SDK", () => {
  const arm = new FakeArm();
  let endpoint = "";
  let ca = "";
  const calls: Array<{ operation: string; failed: boolean }> = [];

  beforeAll(async () => {
    const certificate = await selfSignedCertificate();
    ca = certificate.cert;
    endpoint = await arm.start(certificate);
  });
  afterAll(() => arm.stop());

  const table = () =>
    new ArmRouteTable(networkClient(ref.subscriptionId, { endpoint, credential, ca }), ref, {
      observe: (operation, _seconds, failed) => calls.push({ operation, failed }),
      pollIntervalMs: 10,
    });

  it("creates, updates and deletes owned routes, across list pages, leaving foreign routes alone", async () => {
    const routes = arm.addTable("1d2c3b4a-0000-4000-8000-00000000a1b2", "MC_rg", "rt");
    routes.set("to-firewall", {
      addressPrefix: "0.0.0.0/0",
      nextHopType: "VirtualAppliance",
      nextHopIpAddress: "10.0.0.4",
    });
    routes.set("aks-ipvlan-aks-10-241-0-48-28", {
      addressPrefix: "10.241.0.48/28",
      nextHopType: "VirtualAppliance",
      nextHopIpAddress: "10.224.0.9",
    });
    const desired = [0, 1, 2, 3, 4].map((i) => routeFor(spec, `10.241.0.${i * 16}/28`, `10.224.0.${4 + i}`));
    routes.set(desired[1]!.name, {
      addressPrefix: desired[1]!.addressPrefix,
      nextHopType: "VirtualAppliance",
      nextHopIpAddress: "10.224.0.99",
    });

    const changes = await syncRoutes(table(), "aks", desired);

    expect(changes.put.map((r) => r.name)).toEqual(desired.map((r) => r.name));
    expect(changes.remove).toEqual([]);
    expect(routes.get(desired[1]!.name)?.nextHopIpAddress).toBe("10.224.0.5");
    expect(routes.get("to-firewall")).toBeDefined();
    // Route 10.241.0.48/28 was owned, stale and pointed elsewhere: it is now desired[3] via .7.
    expect(routes.get("aks-ipvlan-aks-10-241-0-48-28")?.nextHopIpAddress).toBe("10.224.0.7");
    expect(arm.requests.some((r) => r.path.includes("/operations/"))).toBe(true);

    const again = await syncRoutes(table(), "aks", desired.slice(0, 3));
    expect(again).toEqual({ put: [], remove: [desired[3]!.name, desired[4]!.name].sort(), unrouted: [] });
    expect([...routes.keys()].sort()).toEqual(
      ["to-firewall", ...desired.slice(0, 3).map((r) => r.name)].sort(),
    );

    const settled = await syncRoutes(table(), "aks", desired.slice(0, 3));
    expect(settled).toEqual({ put: [], remove: [], unrouted: [] });
  });

  it("reports ARM errors with their code and records them as failed calls", async () => {
    arm.addTable("1d2c3b4a-0000-4000-8000-00000000a1b2", "MC_rg", "rt");
    arm.failNext("PUT", /\/routes\//, 403, "AuthorizationFailed");
    calls.length = 0;
    await expect(
      syncRoutes(table(), "aks", [routeFor(spec, "10.241.0.0/28", "10.224.0.4")]),
    ).rejects.toMatchObject({
      code: "AuthorizationFailed",
      statusCode: 403,
    });
    expect(calls).toContainEqual({ operation: "routes.createOrUpdate", failed: true });
  });

  it("fails for a route table that does not exist", async () => {
    const missing = new ArmRouteTable(
      networkClient("1d2c3b4a-0000-4000-8000-00000000a1b2", { endpoint, credential, ca }),
      {
        ...ref,
        name: "nope",
      },
    );
    await expect(missing.list()).rejects.toMatchObject({ code: "ResourceNotFound" });
  });

  it("finds NICs without IP forwarding; enables standalone VM NICs only when asked, never scale set NICs", async () => {
    arm.nics.push(
      { resourceGroup: "MC_rg", name: "vm-a-nic", privateIp: "10.224.0.4", enableIPForwarding: false },
      { resourceGroup: "MC_rg", name: "vm-b-nic", privateIp: "10.224.0.5", enableIPForwarding: true },
      {
        resourceGroup: "MC_rg",
        name: "vmss-nic-0",
        privateIp: "10.224.0.6",
        enableIPForwarding: false,
        scaleSet: { name: "pool-vmss", instance: "0" },
      },
      {
        resourceGroup: "MC_rg",
        name: "vmss-nic-1",
        privateIp: "10.224.0.7",
        enableIPForwarding: true,
        scaleSet: { name: "pool-vmss", instance: "1" },
      },
    );
    const checker = new NicChecker((sub) => networkClient(sub, { endpoint, credential, ca }), {
      pollIntervalMs: 10,
    });
    const vm = (name: string) =>
      `azure:///subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachines/${name}`;
    const vmss = (i: number) =>
      `azure:///subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachineScaleSets/pool-vmss/virtualMachines/${i}`;
    const nodes = [
      { name: "a", ip: "10.224.0.4", providerID: vm("a") },
      { name: "b", ip: "10.224.0.5", providerID: vm("b") },
      { name: "c", ip: "10.224.0.6", providerID: vmss(0) },
      { name: "d", ip: "10.224.0.7", providerID: vmss(1) },
      { name: "e", ip: "10.224.0.77", providerID: vm("e") },
      { name: "f", ip: "10.224.0.78", providerID: "kind://docker/kind/f" },
    ];
    arm.requests.length = 0;

    const report = await checker.checkAll(nodes, false);
    expect(report.get("a")).toMatchObject({ state: "forwarding-off", nic: "vm-a-nic" });
    expect(report.get("b")).toBeUndefined();
    expect(report.get("c")).toMatchObject({ state: "forwarding-off", nic: "vmss-nic-0" });
    expect(report.get("c")?.fix).toContain("az vmss update -g MC_rg -n pool-vmss");
    expect(report.get("d")).toBeUndefined();
    expect(report.get("e")).toMatchObject({ state: "unknown" });
    expect(report.get("f")).toMatchObject({ state: "unknown" });
    expect(arm.nics[0]!.enableIPForwarding).toBe(false);
    // One list per resource group of VMs and one per scale set, not one per node.
    expect(arm.requests.filter((r) => r.method === "GET")).toHaveLength(2);

    const fixed = await checker.checkAll(nodes, true);
    expect(fixed.get("a")).toMatchObject({ state: "enabled" });
    expect(arm.nics[0]!.enableIPForwarding).toBe(true);
    expect(fixed.get("c")).toMatchObject({ state: "forwarding-off" });
    expect(arm.nics[2]!.enableIPForwarding).toBe(false);
    expect((await checker.checkAll(nodes.slice(0, 1), false)).get("a")).toBeUndefined();
  });
});
