// The tunnel mark (mangle table, vxlan mode only). An ipvlan L3S pod's packet is routed in the node's
// namespace with the master as output interface (the ipvlan driver's route lookup is bound to it), so
// the overlay's routes through the VXLAN device never match it and it leaves by the master into a VNet
// that has no route for the pool (measured: docs/datapath-findings.md). A mark set in mangle OUTPUT
// makes the kernel route the packet again without that binding (ip_route_me_harder), and the route via
// the VXLAN device takes it. Only pod traffic to the pool and to the node subnet (other nodes' IPs take
// the tunnel too, src/overlay/desired.ts) is marked; everything else keeps its route.
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import { comment } from "./comment.ts";

export const TUNNEL_CHAIN = "AKS-IPVLAN-TUNNEL";
/** One bit, clear of kube-proxy's 0x4000 (masquerade) and 0x8000 (drop). */
const TUNNEL_MARK = "0x1000000/0x1000000";

/** The rules of TUNNEL_CHAIN, as `-A` lines split into words (as iptables-save prints them). */
export function tunnelMarkRules(spec: ClusterSpec, node: NodePlan): string[][] {
  return node.blocks.flatMap((block) =>
    [...new Set([...spec.podPool, spec.nodeSubnet])].map((destination) => [
      "-A",
      TUNNEL_CHAIN,
      "-s",
      block.cidr,
      "-d",
      destination,
      ...comment("route pod traffic to other nodes again so it takes the overlay"),
      "-j",
      "MARK",
      "--set-xmark",
      TUNNEL_MARK,
    ]),
  );
}
