import { describe, expect, it } from "vitest";
import { validateSpec } from "../../spec/load.ts";
import { plan } from "../../ipam/planner.ts";
import { renderTopology, routeTableCommands } from "./topology.ts";

const seed = validateSpec({
  nodeSubnet: "10.224.0.0/16",
  maxPodsPerNode: 16,
  nodes: [
    { name: "node1", ip: "10.224.0.4" },
    { name: "node2", ip: "10.224.0.5" },
  ],
});

describe("renderTopology", () => {
  const topology = renderTopology(seed, plan(seed));

  it("gives every node eth0 on the node subnet with the subnet's .1 as gateway, like Azure", () => {
    expect(topology.setup.node1).toEqual([
      "link set lo up",
      "link set eth0 up",
      "address add 10.224.0.4/16 dev eth0",
      "route add default via 10.224.0.1",
    ]);
    expect(topology.links).toContain("link add vn1 netns vnet type veth peer name eth0 netns node2");
  });

  it("routes NIC addresses to their node, drops the rest of the VNet and answers ARP at once", () => {
    const vnet = topology.setup.vnet!;
    expect(vnet).toContain("route add 10.224.0.5/32 dev vn1");
    expect(vnet).toContain("route add 10.224.0.0/16 dev drop0");
    expect(vnet).toContain("route add 168.63.129.16/32 dev az0");
    expect(topology.sysctls.vnet).toMatchObject({
      "net.ipv4.conf.vn0.proxy_arp": "1",
      "net.ipv4.neigh.vn0.proxy_delay": "0",
      "net.ipv4.ip_forward": "1",
    });
  });

  it("lets only NIC addresses reach the internet and be reached from it", () => {
    expect(topology.vnetFilter.split("\n")).toEqual([
      "*filter",
      "-A FORWARD -o inet0 -s 10.224.0.4/32 -j ACCEPT",
      "-A FORWARD -o inet0 -s 10.224.0.5/32 -j ACCEPT",
      "-A FORWARD -o inet0 -j DROP",
      "-A FORWARD -i inet0 -d 10.224.0.4/32 -j ACCEPT",
      "-A FORWARD -i inet0 -d 10.224.0.5/32 -j ACCEPT",
      "-A FORWARD -i inet0 -j DROP",
      "COMMIT",
      "",
    ]);
  });

  it("turns the plan's routes into the VNet's route table, via the node that holds the block", () => {
    const routes = plan(seed).routes;
    expect(routeTableCommands(topology, routes, "add")).toEqual([
      "route add 10.224.0.16/28 via 10.224.0.4 dev vn0",
      "route add 10.224.0.32/28 via 10.224.0.5 dev vn1",
    ]);
    expect(() =>
      routeTableCommands(topology, [{ ...routes[0]!, nextHopIpAddress: "10.224.0.9" }], "del"),
    ).toThrow(/no emulated node/);
  });

  it("drops a pod pool outside the node subnet too", () => {
    const spec = validateSpec({ ...seed, podPool: ["10.241.0.0/16"] });
    expect(renderTopology(spec, plan(spec)).setup.vnet).toContain("route add 10.241.0.0/16 dev drop0");
  });
});
