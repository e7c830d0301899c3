// The emulated VNet of the lifecycle scenario: the demo's topology (guest/topology.ts: VNet, Azure
// endpoints' namespace, internet host, one namespace per node) with an empty route table, which
// follows the controller's blocks as they appear (vnet-routes.ts), plus one link the demo does not
// need: the guest's own namespace (the admin's machine, where install and the scenario run) to the
// API server in the internet namespace.
import type { ClusterSpec } from "../../spec/schema.ts";
import { plan } from "../../ipam/planner.ts";
import { INTERNET, VNET, renderTopology, type Topology } from "../guest/topology.ts";
import { ipBatch, iptablesRestore, sysctls } from "../guest/netns.ts";

/** TEST-NET-1 (RFC 5737): never an address of the spec's VNet or of the internet host. */
const ADMIN_ADDRESS = "192.0.2.1";
export const API_ADMIN_ADDRESS = "192.0.2.2";
const ADMIN_LINK = "adm0";

export async function buildNetwork(spec: ClusterSpec): Promise<Topology> {
  const topology = renderTopology(spec, plan(spec));
  const namespaceCommands = topology.namespaces.map((ns) => `netns add ${ns}`);
  await ipBatch(undefined, namespaceCommands);
  await ipBatch(undefined, [
    ...topology.links,
    `link add ${ADMIN_LINK} type veth peer name ${ADMIN_LINK} netns ${INTERNET}`,
    `address add ${ADMIN_ADDRESS}/30 dev ${ADMIN_LINK}`,
    `link set ${ADMIN_LINK} up`,
  ]);
  for (const [ns, values] of Object.entries(topology.sysctls)) await sysctls(ns, values);
  for (const [ns, commands] of Object.entries(topology.setup)) await ipBatch(ns, commands);
  await ipBatch(INTERNET, [
    `address add ${API_ADMIN_ADDRESS}/30 dev ${ADMIN_LINK}`,
    `link set ${ADMIN_LINK} up`,
  ]);
  await iptablesRestore(VNET, topology.vnetFilter);
  return topology;
}
