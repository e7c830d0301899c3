// The pods' MTU, one rule for every mode: what the spec says, else in vxlan mode the node's NIC MTU
// less the tunnel's 50 bytes (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14), else unset (the
// ipvlan device takes its master's).
import type { ClusterSpec } from "./schema.ts";

const VXLAN_OVERHEAD_BYTES = 50;

export function podMtu(spec: Pick<ClusterSpec, "mtu" | "routing">): number | undefined {
  if (spec.mtu !== undefined) return spec.mtu;
  if (spec.routing.mode === "vxlan") return spec.routing.vxlan.nodeMtu - VXLAN_OVERHEAD_BYTES;
  return undefined;
}
