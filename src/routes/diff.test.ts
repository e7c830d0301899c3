import { describe, expect, it } from "vitest";
import { ownsRoute, routeChanges } from "./diff.ts";
import { azCommands, formatCommands } from "../azure/az-commands.ts";

const route = (block: string, ip: string, cluster = "aks") => ({
  name: `aks-ipvlan-${cluster}-${block.replace(/[./]/g, "-")}`,
  addressPrefix: block,
  nextHopType: "VirtualAppliance" as const,
  nextHopIpAddress: ip,
});

describe("ownsRoute", () => {
  it("owns only its own cluster's block routes", () => {
    expect(ownsRoute("aks", "aks-ipvlan-aks-10-241-0-0-28")).toBe(true);
    expect(ownsRoute("aks", "aks-ipvlan-aks-2-10-241-0-0-28")).toBe(false);
    expect(ownsRoute("aks-2", "aks-ipvlan-aks-2-10-241-0-0-28")).toBe(true);
    expect(ownsRoute("aks", "to-firewall")).toBe(false);
    expect(ownsRoute("aks", "aks-ipvlan-aks-default")).toBe(false);
  });
});

describe("routeChanges", () => {
  it("puts missing and changed routes, removes stale owned ones, leaves foreign ones", () => {
    const desired = [route("10.241.0.0/28", "10.224.0.4"), route("10.241.0.16/28", "10.224.0.5")];
    const actual = [
      route("10.241.0.0/28", "10.224.0.4"),
      route("10.241.0.16/28", "10.224.0.9"),
      route("10.241.0.32/28", "10.224.0.6"),
      route("10.241.0.48/28", "10.224.0.7", "aks-2"),
      { name: "default-to-firewall", addressPrefix: "0.0.0.0/0", nextHopType: "VirtualAppliance" },
    ];
    const changes = routeChanges("aks", desired, actual);
    expect(changes.put).toEqual([route("10.241.0.16/28", "10.224.0.5")]);
    expect(changes.remove).toEqual(["aks-ipvlan-aks-10-241-0-32-28"]);
  });

  it("changes nothing when the table already matches", () => {
    const desired = [route("10.241.0.0/28", "10.224.0.4")];
    expect(routeChanges("aks", desired, desired)).toEqual({ put: [], remove: [] });
  });
});

describe("azCommands", () => {
  it("renders create and delete commands for the route table", () => {
    const table = { subscriptionId: "sub", resourceGroup: "MC_rg", name: "rt" };
    const text = formatCommands(
      azCommands(table, {
        put: [route("10.241.0.0/28", "10.224.0.4")],
        remove: ["aks-ipvlan-aks-10-241-0-32-28"],
      }),
    );
    expect(text.split("\n")).toEqual([
      "az network route-table route create --subscription sub --resource-group MC_rg --route-table-name rt --name aks-ipvlan-aks-10-241-0-0-28 --address-prefix 10.241.0.0/28 --next-hop-type VirtualAppliance --next-hop-ip-address 10.224.0.4",
      "az network route-table route delete --subscription sub --resource-group MC_rg --route-table-name rt --name aks-ipvlan-aks-10-241-0-32-28",
    ]);
  });

  it("quotes arguments the shell would split", () => {
    expect(formatCommands([["az", "--resource-group", "my rg's"]])).toBe(`az --resource-group 'my rg'\\''s'`);
  });
});
