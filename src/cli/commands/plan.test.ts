import { describe, expect, it } from "vitest";
import { parseSpec } from "../../spec/load.ts";
import { plan } from "../../ipam/planner.ts";
import { planTable } from "./plan.ts";

const NODES =
  "nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nmaxPodsPerNode: 16\nnodes:\n- {name: node1, ip: 10.224.0.4}\n- {name: node2, ip: 10.224.0.5}\n";

describe("the plan table", () => {
  it("vnet: names the mode and the MTU, and lists the route table's entries", () => {
    const text = planTable(plan(parseSpec(NODES)));
    expect(text).toMatch(/^routing mode vnet \(.*Azure route table\); pod MTU the master interface's$/m);
    expect(text).toContain("Route-table entries the VNet needs");
    expect(text).toMatch(
      /aks-ipvlan-aks-10-241-0-32-28\s+10\.241\.0\.32\/28\s+VirtualAppliance\s+10\.224\.0\.5/,
    );
    expect(text).not.toContain("Overlay");
  });

  it("vxlan: names the mode and the tunnel's MTU, and lists each node's overlay entries instead of routes", () => {
    const text = planTable(plan(parseSpec(`${NODES}routing: {mode: vxlan}\n`)));
    expect(text).toMatch(/^routing mode vxlan \(.*VXLAN overlay, no Azure route table\); pod MTU 1450$/m);
    expect(text).toContain("Overlay entries every other node programs");
    expect(text).toMatch(/^node1\s+10\.224\.0\.4\s+10\.241\.0\.16\/28$/m);
    expect(text).toMatch(/^node2\s+10\.224\.0\.5\s+10\.241\.0\.32\/28$/m);
    expect(text).not.toMatch(/Route-table|VirtualAppliance/);
  });
});
