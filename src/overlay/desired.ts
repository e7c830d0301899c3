// What the VXLAN overlay (routing.mode vxlan) should look like on one node, as data: one VXLAN device
// whose local end is the node's IP, and for every other node its blocks routed through the device to a
// next hop (the peer's IP, onlink), a permanent neighbour entry for that next hop (a MAC derived from
// the peer's IP) and a forwarding entry from that MAC to the peer's IP. No address is learned and no
// ARP crosses the tunnel: every entry follows from the node list (measured: docs/datapath-findings.md).
// Pod traffic to another node's own IP takes the tunnel too (a rule `from POOL` into the overlay's
// table, which holds every peer's IP): a NIC without IP forwarding may only send its own address, so a
// pod's reply to a connection another node opened (a NodePort after kube-proxy's SNAT, a host-network
// client) must not leave by the NIC with the pod's address.
import type { ClusterSpec } from "../spec/schema.ts";
import { podMtu } from "../spec/mtu.ts";
import { formatCidr, isIPv4, parseCidr, parseIp } from "../net/cidr.ts";
import type { OverlayPeer } from "../ipam/overlay-peers.ts";

/** The node's VXLAN device; a constant, so cleanup finds it without a spec. */
export const OVERLAY_DEVICE = "vxlan-aks";
/** The routing table of peers' node IPs, and the priority of the rules that send pod traffic to it. */
export const OVERLAY_TABLE = 4789;

interface OverlayDevice {
  name: string;
  vni: number;
  port: number;
  /** The node's IP: the outer source of every tunnelled packet. */
  local: string;
  /** The NIC the tunnel's UDP leaves by (spec.masterInterface). */
  master: string;
  mtu: number;
  /** macFor(local): peers address this node's device with it. */
  mac: string;
}

interface OverlayEntry {
  name: string;
  /** The peer's node IP: next hop of its routes, neighbour address, forwarding destination. */
  ip: string;
  mac: string;
  blocks: string[];
}

export interface Overlay {
  device: OverlayDevice;
  peers: OverlayEntry[];
  /** The pod pool: traffic from it looks up OVERLAY_TABLE first. */
  pools: string[];
}

/**
 * A locally administered unicast MAC (02:a5 and the four bytes of the address): one per node, the
 * same on every node, so no neighbour is ever resolved across the tunnel.
 */
export function macFor(ip: string): string {
  let mac = MACS.get(ip);
  if (mac === undefined) {
    const value = parseIp(ip);
    const bytes = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
    mac = ["02", "a5", ...bytes.map((byte) => byte.toString(16).padStart(2, "0"))].join(":");
    MACS.set(ip, mac);
  }
  return mac;
}

/**
 * Every reconcile derives the MAC of every peer, and parsing 5,000 addresses costs a reconcile on a
 * slow node seconds (measured in bench/vxlan-agent.ts): addresses seldom change, so each is parsed once.
 */
const MACS = new Map<string, string>();

/**
 * The overlay of node `self` among `peers` (every node of the cluster; `self`, nodes without an IPv4
 * address and nodes without a block are left out). Blocks come as the annotation parser and the planner
 * write them (a.b.c.d/n); they are sorted, peers by name.
 */
export function desiredOverlay(
  spec: Pick<ClusterSpec, "mtu" | "routing" | "masterInterface" | "podPool">,
  self: { name: string; ip: string },
  peers: readonly OverlayPeer[],
): Overlay {
  const mtu = podMtu(spec) ?? spec.routing.vxlan.nodeMtu;
  const entries = peers
    .filter(
      (peer) => peer.name !== self.name && peer.ip !== self.ip && (MACS.has(peer.ip) || isIPv4(peer.ip)),
    )
    .map((peer) => ({
      name: peer.name,
      ip: peer.ip,
      mac: macFor(peer.ip),
      blocks: [...new Set(peer.blocks)].sort(),
    }))
    .filter((peer) => peer.blocks.length > 0)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    device: {
      name: OVERLAY_DEVICE,
      vni: spec.routing.vxlan.vni,
      port: spec.routing.vxlan.port,
      local: self.ip,
      master: spec.masterInterface,
      mtu,
      mac: macFor(self.ip),
    },
    peers: entries,
    pools: spec.podPool.map((pool) => formatCidr(parseCidr(pool))),
  };
}
