import { describe, expect, it } from "vitest";
import { desiredRoutes } from "./routes.ts";
import { ledgerPatchData, parseLedger } from "../controller/ledger.ts";
import { plan } from "../ipam/planner.ts";
import { validateSpec } from "../spec/load.ts";

const spec = validateSpec({
  name: "aks",
  nodeSubnet: "10.224.0.0/16",
  podPool: ["10.241.0.0/16"],
  nodes: [
    { name: "b", ip: "10.224.0.5" },
    { name: "a", ip: "10.224.0.4" },
  ],
});

describe("desiredRoutes", () => {
  it("routes every block via its node: the same routes the planner gives for the same blocks", () => {
    const planned = plan(spec);
    const routes = desiredRoutes(
      spec,
      planned.nodes.map((node) => ({ name: node.name, ip: node.ip, blocks: node.blocks.map((b) => b.cidr) })),
    );
    expect(routes).toEqual(
      [...planned.routes].sort((x, y) => x.nextHopIpAddress.localeCompare(y.nextHopIpAddress)),
    );
    expect(routes.map((route) => route.nextHopIpAddress)).toEqual(["10.224.0.4", "10.224.0.5"]);
  });

  it("gives one route per block for a node with several", () => {
    const routes = desiredRoutes(spec, [
      { name: "a", ip: "10.224.0.4", blocks: ["10.241.0.16/28", "10.241.0.32/28"] },
    ]);
    expect(routes.map((route) => [route.name, route.addressPrefix])).toEqual([
      ["aks-ipvlan-aks-10-241-0-16-28", "10.241.0.16/28"],
      ["aks-ipvlan-aks-10-241-0-32-28", "10.241.0.32/28"],
    ]);
  });
});

describe("the ledger ConfigMap", () => {
  it("round-trips blocks through ConfigMap keys and ignores keys that are not blocks", () => {
    const data = ledgerPatchData(new Map([["10.241.0.16/28", "a"]]), ["10.241.0.32/28"]);
    expect(data).toEqual({ "10.241.0.16_28": "a", "10.241.0.32_28": null });
    expect(parseLedger({ "10.241.0.16_28": "a", note: "hand-written", "10.241.0.17_28": "x" })).toEqual(
      new Map([["10.241.0.16/28", "a"]]),
    );
  });
});
