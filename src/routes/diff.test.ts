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
    expect(routeChanges("aks", desired, desired)).toEqual({ put: [], remove: [], unrouted: [] });
  });

  it("fills a table to its limit, everyone's routes counted, and keeps the routes it has in place", () => {
    const firewall = { name: "to-firewall", addressPrefix: "0.0.0.0/0", nextHopType: "VirtualAppliance" };
    const desired = [0, 1, 2, 3, 4].map((i) => route(`10.241.0.${i * 16}/28`, `10.224.0.${4 + i}`));
    // Room for three of ours: the table holds desired[3] already, and a stale route of ours.
    const actual = [firewall, desired[3]!, route("10.241.1.0/28", "10.224.0.99")];
    const changes = routeChanges("aks", desired, actual, 4);
    expect(changes.put).toEqual([desired[0], desired[1]]);
    expect(changes.remove).toEqual(["aks-ipvlan-aks-10-241-1-0-28"]);
    expect(changes.unrouted).toEqual([desired[2], desired[4]]);

    // Applied, the table is full; a node earlier in the order joining takes no route from anyone.
    const full = [firewall, desired[0]!, desired[1]!, desired[3]!];
    const early = route("10.241.2.0/28", "10.224.0.2");
    expect(routeChanges("aks", [early, ...desired], full, 4)).toEqual({
      put: [],
      remove: [],
      unrouted: [early, desired[2], desired[4]],
    });
    // A route that moved to another node is updated in its place; a gone node's route makes room.
    const moved = route("10.241.0.0/28", "10.224.0.50");
    expect(routeChanges("aks", [moved, desired[2]!, desired[3]!], full, 4)).toEqual({
      put: [moved, desired[2]],
      remove: ["aks-ipvlan-aks-10-241-0-16-28"],
      unrouted: [],
    });
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
