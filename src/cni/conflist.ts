// The CNI network configuration list for one node: ipvlan (mode l3s) on the master with host-local
// handing out the node's blocks, and portmap chained for hostPort.
import type { ClusterSpec } from "../spec/schema.ts";
import { podMtu } from "../spec/mtu.ts";
import type { NodePlan } from "../ipam/planner.ts";
import type { Conflist, HostLocalRange } from "./schema.ts";

export const NETWORK_NAME = "aks-ipvlan";
/** containerd loads the first file in lexical order; 10- puts ours ahead of leftovers like 99-loopback. */
export const CONFLIST_FILE = "10-aks-ipvlan.conflist";
/** On tmpfs, so reservations do not outlive a reboot that took their pods with it. */
export const IPAM_DATA_DIR = "/run/aks-ipvlan/ipam";
export const REQUIRED_PLUGINS = ["ipvlan", "host-local", "portmap"] as const;

export type { Conflist } from "./schema.ts";

/** `ipamDataDir` overrides IPAM_DATA_DIR, e.g. for emulated nodes sharing one file system. */
export function renderConflist(
  spec: ClusterSpec,
  node: NodePlan,
  options: { ipamDataDir?: string } = {},
): Conflist {
  const mtu = podMtu(spec);
  const ranges: HostLocalRange[] = node.blocks.map((block) => ({
    subnet: block.rangeSubnet,
    rangeStart: block.firstPod,
    rangeEnd: block.lastPod,
    gateway: block.gateway,
  }));
  return {
    cniVersion: spec.cniVersion,
    name: NETWORK_NAME,
    plugins: [
      {
        type: "ipvlan",
        master: spec.masterInterface,
        mode: "l3s",
        ...(mtu === undefined ? {} : { mtu }),
        ipam: {
          type: "host-local",
          dataDir: options.ipamDataDir ?? IPAM_DATA_DIR,
          // One range set: a pod gets one IPv4 address from whichever of the node's blocks has room.
          ranges: [ranges],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export function conflistText(conflist: Conflist): string {
  return `${JSON.stringify(conflist, null, 2)}\n`;
}
