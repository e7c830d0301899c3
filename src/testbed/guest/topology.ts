// The emulated network, as data: namespaces, veth pairs, addresses, routes and the VNet's filter, all
// computed from the cluster spec and the product's plan. Emulates an Azure VNet with one subnet: the
// VNet answers ARP for every address it can route (proxy ARP, no delay), delivers only to NIC addresses
// and to the route table's entries (the plan's routes, block → node IP), drops the rest of the address
// space, lets only NIC addresses reach the internet and reach them from it, and routes Azure's DNS,
// wireserver and IMDS addresses to an `azure` namespace; in vxlan mode it routes no pod block and
// drops what a NIC sends from another address than its own (no IP forwarding). Leaves out: Azure's SNAT of node addresses to
// public IPs (the internet host sees node IPs), load balancers, NSGs, accelerated networking, MTU.
import type { ClusterSpec } from "../../spec/schema.ts";
import type { Plan } from "../../ipam/planner.ts";
import type { RouteEntry } from "../../routes/routes.ts";
import { formatIp, parseCidr } from "../../net/cidr.ts";
import { IMDS, WIRESERVER } from "../../noderules/azure-endpoints.ts";

export const VNET = "vnet";
export const AZURE = "azure";
export const INTERNET = "internet";
export const INTERNET_IP = "198.51.100.10";
const INTERNET_GATEWAY = "198.51.100.1";
const DROP_DEVICE = "drop0";

export interface EmulatedNode {
  name: string;
  /** The node's network namespace. */
  ns: string;
  ip: string;
  /** The node's eth0 peer in the VNet namespace. */
  vnetDevice: string;
}

export interface Topology {
  namespaces: string[];
  nodes: EmulatedNode[];
  /** `ip -batch` run in the guest's root namespace: creates every veth pair straight into its namespaces. */
  links: string[];
  /** `ip -batch` per namespace, run after `links`. */
  setup: Record<string, string[]>;
  sysctls: Record<string, Record<string, string>>;
  /** iptables-restore payload for the VNet namespace's filter table. */
  vnetFilter: string;
}

export function nodeGateway(spec: ClusterSpec): string {
  return formatIp(parseCidr(spec.nodeSubnet).base + 1);
}

export function renderTopology(spec: ClusterSpec, plan: Plan): Topology {
  const gateway = nodeGateway(spec);
  const prefix = parseCidr(spec.nodeSubnet).prefix;
  const nodes: EmulatedNode[] = plan.nodes.map((node, index) => ({
    name: node.name,
    ns: node.name,
    ip: node.ip,
    vnetDevice: `vn${index}`,
  }));
  const vnetDevices = [...nodes.map((node) => node.vnetDevice), "az0", "inet0"];
  const links = [
    ...nodes.map(
      (node) => `link add ${node.vnetDevice} netns ${VNET} type veth peer name eth0 netns ${node.ns}`,
    ),
    `link add az0 netns ${VNET} type veth peer name eth0 netns ${AZURE}`,
    `link add inet0 netns ${VNET} type veth peer name eth0 netns ${INTERNET}`,
  ];
  const addressSpace = [...new Set([spec.nodeSubnet, ...spec.podPool])];

  const vnet = [
    "link set lo up",
    `link add ${DROP_DEVICE} type dummy`,
    `link set ${DROP_DEVICE} up`,
    ...vnetDevices.map((device) => `link set ${device} up`),
    // The gateway address on every NIC's link: nodes resolve their default gateway like in Azure.
    ...nodes.map((node) => `address add ${gateway}/32 dev ${node.vnetDevice}`),
    ...nodes.map((node) => `route add ${node.ip}/32 dev ${node.vnetDevice}`),
    ...addressSpace.map((cidr) => `route add ${cidr} dev ${DROP_DEVICE}`),
    `route add ${WIRESERVER}/32 dev az0`,
    `route add ${IMDS}/32 dev az0`,
    `address add ${INTERNET_GATEWAY}/24 dev inet0`,
  ];
  const host = (addresses: string[], routes: string[]) => [
    "link set lo up",
    "link set eth0 up",
    ...addresses.map((address) => `address add ${address} dev eth0`),
    ...routes,
  ];
  const setup: Record<string, string[]> = {
    [VNET]: vnet,
    [AZURE]: host([`${WIRESERVER}/32`, `${IMDS}/32`], ["route add default dev eth0"]),
    [INTERNET]: host([`${INTERNET_IP}/24`], [`route add default via ${INTERNET_GATEWAY}`]),
  };
  for (const node of nodes) {
    setup[node.ns] = host([`${node.ip}/${prefix}`], [`route add default via ${gateway}`]);
  }

  const perDevice = vnetDevices.flatMap((device) => [
    [`net.ipv4.conf.${device}.proxy_arp`, "1"],
    [`net.ipv4.neigh.${device}.proxy_delay`, "0"],
    [`net.ipv4.conf.${device}.rp_filter`, "0"],
  ]);
  const sysctls = {
    [VNET]: Object.fromEntries([
      ["net.ipv4.ip_forward", "1"],
      ["net.ipv4.conf.all.rp_filter", "0"],
      ...perDevice,
    ]),
    [AZURE]: { "net.ipv4.conf.all.rp_filter": "0" },
  };

  // Azure SNATs only a NIC's primary address to the internet, and only those addresses take inbound
  // connections from it; pod addresses must leave masqueraded. A NIC without IP forwarding may send
  // only its own address (vxlan mode needs no IP forwarding; vnet mode's route table needs it on).
  const sourceCheck =
    spec.routing.mode === "vxlan"
      ? nodes.map((node) => `-A FORWARD -i ${node.vnetDevice} ! -s ${node.ip}/32 -j DROP`)
      : [];
  const filter = [
    "*filter",
    ...sourceCheck,
    ...nodes.map((node) => `-A FORWARD -o inet0 -s ${node.ip}/32 -j ACCEPT`),
    "-A FORWARD -o inet0 -j DROP",
    ...nodes.map((node) => `-A FORWARD -i inet0 -d ${node.ip}/32 -j ACCEPT`),
    "-A FORWARD -i inet0 -j DROP",
    "COMMIT",
    "",
  ].join("\n");

  return {
    namespaces: [VNET, AZURE, INTERNET, ...nodes.map((node) => node.ns)],
    nodes,
    links,
    setup,
    sysctls,
    vnetFilter: filter,
  };
}

/** The VNet route table's entries as `ip` commands in the VNet namespace (add or delete). */
export function routeTableCommands(
  topology: Topology,
  routes: readonly RouteEntry[],
  action: "add" | "del",
): string[] {
  return routes.map((route) => {
    const node = topology.nodes.find((candidate) => candidate.ip === route.nextHopIpAddress);
    if (!node) throw new Error(`route ${route.name}: next hop ${route.nextHopIpAddress} is no emulated node`);
    return `route ${action} ${route.addressPrefix} via ${route.nextHopIpAddress} dev ${node.vnetDevice}`;
  });
}
