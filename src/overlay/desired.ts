// What the VXLAN overlay (routing.mode vxlan) should look like on one node, as data: one VXLAN device
// whose local end is the node's IP, and for every other node its blocks routed through the device to a
// next hop (the peer's IP, onlink), a permanent neighbour entry for that next hop (a MAC derived from
// the peer's IP) and a forwarding entry from that MAC to the peer's IP. No address is learned and no
// ARP crosses the tunnel: every entry follows from the node list (measured: docs/datapath-findings.md).
import type { ClusterSpec } from "../spec/schema.ts";
import { podMtu } from "../spec/mtu.ts";
import { formatCidr, parseCidr, parseIp } from "../net/cidr.ts";

/** The node's VXLAN device; a constant, so cleanup finds it without a spec. */
export const OVERLAY_DEVICE = "vxlan-aks";

/** A node of the cluster as the overlay sees it (the lead unifies it with the planner's OverlayPeer). */
export interface OverlayPeer {
  name: string;
  ip: string;
  blocks: string[];
}

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
}

/**
 * A locally administered unicast MAC (02:a5 and the four bytes of the address): one per node, the
 * same on every node, so no neighbour is ever resolved across the tunnel.
 */
export function macFor(ip: string): string {
  const value = parseIp(ip);
  const bytes = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return ["02", "a5", ...bytes.map((byte) => byte.toString(16).padStart(2, "0"))].join(":");
}

/**
 * The overlay of node `self` among `peers` (every node of the cluster; `self` and nodes without an
 * address or a block are left out). Blocks are normalised (a.b.c.d/n) and sorted, peers by name.
 */
export function desiredOverlay(
  spec: Pick<ClusterSpec, "mtu" | "routing" | "masterInterface">,
  self: { name: string; ip: string },
  peers: readonly OverlayPeer[],
): Overlay {
  const mtu = podMtu(spec) ?? spec.routing.vxlan.nodeMtu;
  const entries = peers
    .filter((peer) => peer.name !== self.name && peer.ip !== self.ip && peer.ip !== "")
    .map((peer) => ({
      name: peer.name,
      ip: peer.ip,
      mac: macFor(peer.ip),
      blocks: [...new Set(peer.blocks.map((block) => formatCidr(parseCidr(block))))].sort(),
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
  };
}
