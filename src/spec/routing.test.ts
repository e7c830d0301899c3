import { describe, expect, it } from "vitest";
import { parseSpec } from "./load.ts";
import { podMtu } from "./mtu.ts";
import { UserError, type Finding } from "../errors/user-error.ts";

const VXLAN = "nodeSubnet: 10.224.0.0/16\nrouting: {mode: vxlan}\n";

function findings(text: string): Finding[] {
  try {
    parseSpec(text);
  } catch (error) {
    if (error instanceof UserError) return error.findings;
    throw error;
  }
  return [];
}

describe("routing.mode vxlan in the spec", () => {
  it("accepts a pool outside the node subnet and gives the pods the node MTU less 50", () => {
    const spec = parseSpec(`${VXLAN}podPool: [10.241.0.0/16]\n`);
    expect(spec.routing).toEqual({
      mode: "vxlan",
      routeTableLimit: 1000,
      vxlan: { vni: 4096, port: 4789, nodeMtu: 1500 },
    });
    expect(podMtu(spec)).toBe(1450);
    expect(podMtu(parseSpec(`${VXLAN}podPool: [10.241.0.0/16]\nmtu: 1450\n`))).toBe(1450);
  });

  it.each([
    ["no pool (it defaults to the node subnet)", VXLAN, "podPool", /node subnet/],
    [
      "a pool inside the node subnet",
      `${VXLAN}podPool: [10.224.128.0/17]\n`,
      "podPool[0]",
      /overlaps nodeSubnet/,
    ],
    [
      "a pool around the node subnet",
      `${VXLAN}podPool: [10.224.0.0/15]\n`,
      "podPool[0]",
      /VNet never routes/,
    ],
    [
      "an MTU the tunnel headers do not fit under",
      `${VXLAN}podPool: [10.241.0.0/16]\nmtu: 1451\n`,
      "mtu",
      /nodeMtu 1500 less the 50 bytes of VXLAN headers is 1450/,
    ],
    [
      "an MTU over a smaller node MTU",
      "nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nmtu: 1400\nrouting: {mode: vxlan, vxlan: {nodeMtu: 1400}}\n",
      "mtu",
      /is 1350/,
    ],
    [
      "a route table",
      `${VXLAN}podPool: [10.241.0.0/16]\ncontroller: {routeTable: {subscriptionId: 1d2c3b4a-0000-4000-8000-00000000a1b2, resourceGroup: rg, name: rt}}\n`,
      "controller.routeTable",
      /no route table/,
    ],
    [
      "an Azure identity",
      `${VXLAN}podPool: [10.241.0.0/16]\ncontroller: {azureClientId: 00000000-0000-0000-0000-000000000001}\n`,
      "controller.azureClientId",
      /needs no Azure identity/,
    ],
    [
      "NIC IP forwarding",
      `${VXLAN}podPool: [10.241.0.0/16]\ncontroller: {enableIpForwarding: true}\n`,
      "controller.enableIpForwarding",
      /no NIC needs IP forwarding/,
    ],
  ])("refuses %s, saying why and how to fix it", (_name, text, path, message) => {
    const problems = findings(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe(path);
    expect(problems[0]!.message).toMatch(message);
    expect(problems[0]!.fix).toMatch(/podPool: \[10\.241\.0\.0\/16\]|mtu to \d+ or less|routing\.mode: vnet/);
  });

  it("leaves vnet mode as it was: the seed's pool in the node subnet, any MTU, the Azure settings", () => {
    const vnet =
      "nodeSubnet: 10.224.0.0/16\nmtu: 9000\ncontroller: {enableIpForwarding: true, azureClientId: 00000000-0000-0000-0000-000000000001, routeTable: {subscriptionId: 1d2c3b4a-0000-4000-8000-00000000a1b2, resourceGroup: rg, name: rt}}\n";
    expect(findings(vnet)).toEqual([]);
    expect(findings(`${vnet}routing: {mode: vnet}\n`)).toEqual([]);
    expect(podMtu(parseSpec(vnet))).toBe(9000);
    expect(podMtu(parseSpec("nodeSubnet: 10.224.0.0/16\n"))).toBeUndefined();
  });
});
