// The node's share of NetworkPolicy: what its own filter table must check for its pods, because the
// pods' namespaces do not see it (measured on the UML kernel, ipvlan L3S). Conntrack follows the same
// paths: the pod namespace's conntrack never sees a connection opened from another node, so the pod's
// reply leaves its namespace as NEW (UDP) or INVALID (a TCP SYN-ACK); only the node's conntrack sees
// both directions. So ingress from elsewhere, egress to elsewhere and Services after DNAT are judged
// here, in one ChainSet the iptables layer applies like the node's other rules. In vxlan mode a packet
// from another node's pod arrives on the VXLAN device and is forwarded to the host device instead
// (FORWARD, then the pod's INPUT, whose rules judge it too): the node judges it there as well, so the
// node's rules alone still hold cross-node ingress when a pod's own rules are missing (drift, a
// namespace not found yet), as INPUT does in vnet mode (docs/datapath-findings.md, "VXLAN overlay").
import type { ChainSet, JumpRule } from "../iptables/chain-set.ts";
import { formatCidr, parseCidr, parseIp } from "../net/cidr.ts";
import { hostCidrs, inAny } from "../net/cidr-set.ts";
import { HOST_DEVICE } from "../hostpath/desired.ts";
import { podKey, type PolicyPod, type PolicyWorld } from "./model.ts";
import { PolicyIndex, type Clause } from "./resolve.ts";
import { ESTABLISHED, clauseRules, comment, denyRules, hostCidr, rule } from "./rules.ts";

export const NODE_INGRESS_CHAIN = "AKS-IPVLAN-POD-INGRESS";
export const NODE_EGRESS_CHAIN = "AKS-IPVLAN-POD-EGRESS";
export const SERVICE_INGRESS_CHAIN = "AKS-IPVLAN-SVC-INGRESS";
/** The node chains NetworkPolicy owns, in the filter table: constants, so cleanup needs no spec. */
export const NODE_POLICY_CHAINS = [NODE_INGRESS_CHAIN, NODE_EGRESS_CHAIN, SERVICE_INGRESS_CHAIN];

export interface NodePolicyRules extends ChainSet {
  ruleCount: number;
}

/**
 * - POD-INGRESS, from INPUT: a packet from another node (or outside) reaches a pod through the node's
 *   INPUT and never crosses the pod namespace's INPUT; each ingress-isolated local pod's allowed
 *   sources are checked here. Also from FORWARD for packets leaving by the host device: vxlan mode's
 *   path from other nodes (in vnet mode nothing from elsewhere takes it); the node's conntrack sees
 *   the request there and the reply in OUTPUT, and a local pod's replies coming back that way are
 *   ESTABLISHED.
 * - POD-EGRESS, from OUTPUT: what a pod sends beyond the node's own pods (the pod's namespace lets it
 *   through), and a ClusterIP connection after kube-proxy's DNAT (nat OUTPUT) against the backend's
 *   address. Replies of connections opened from another node are ESTABLISHED here (this conntrack saw
 *   the request in INPUT), where the pod's namespace took them for new.
 * - SVC-INGRESS, from OUTPUT for new DNATed connections: before the same-node hairpin SNAT
 *   (POSTROUTING), a same-node backend's ingress is checked against the client's address (the backend's
 *   namespace will see the node IP).
 * Allowed packets RETURN (so every check runs and later rules of the built-in chain still apply);
 * anything else to or from such a pod is rejected.
 */
export function compileNodeRules(
  world: PolicyWorld,
  nodePods: PolicyPod[],
  options: {
    nodeIP: string;
    /**
     * Fail-closed beyond the node: this node's pod blocks. Ingress from other nodes to an address in
     * them that is no pod of `nodePods` (a sandbox whose policy is not computed yet), and its egress
     * beyond the node, are denied here, as the isolate payload denies them in the pod's namespace;
     * `nodePods` that no policy isolates pass.
     */
    failClosedCIDRs?: readonly string[];
  },
): NodePolicyRules {
  const index = new PolicyIndex(world);
  const node = hostCidr(options.nodeIP);
  // Only this node's pods (and the node) originate packets in its OUTPUT, so an ingress clause there
  // needs no address beyond theirs: a CIDR like 0.0.0.0/0-minus-private shrinks to the pods it covers.
  const local = nodePods.map((pod) => parseIp(pod.ip));
  const localSources = (clause: Clause): Clause => {
    if (clause.addrs === "any") return clause;
    const addrs = clause.addrs;
    return { ...clause, addrs: hostCidrs(local.filter((ip) => inAny(addrs, ip))) };
  };
  const chains = new Map<string, string[]>([
    [NODE_INGRESS_CHAIN, [rule({ chain: NODE_INGRESS_CHAIN, match: ESTABLISHED, target: "RETURN" })]],
    [NODE_EGRESS_CHAIN, [rule({ chain: NODE_EGRESS_CHAIN, match: ESTABLISHED, target: "RETURN" })]],
    [SERVICE_INGRESS_CHAIN, []],
  ]);
  /** One pod's block in a node chain: the node, the clauses, then deny; `self` pins the pod's end. */
  const block = (chain: string, clauses: Clause[], pod: PolicyPod, peerSide: "source" | "destination") => {
    const self = peerSide === "source" ? { destination: hostCidr(pod.ip) } : { source: hostCidr(pod.ip) };
    const lines = chains.get(chain)!;
    lines.push(rule({ chain, ...self, [peerSide]: node, note: "own node", target: "RETURN" }));
    for (const clause of clauses) lines.push(...clauseRules(clause, chain, peerSide, "RETURN", self));
    const direction = peerSide === "source" ? "ingress" : "egress";
    lines.push(
      ...denyRules({ chain, ...self, note: `${direction} of ${podKey(pod)} not allowed by policy` }),
    );
  };
  for (const pod of nodePods) {
    const intent = index.intent(pod);
    if (intent.ingress.isolated) {
      block(NODE_INGRESS_CHAIN, intent.ingress.clauses, pod, "source");
      block(SERVICE_INGRESS_CHAIN, intent.ingress.clauses.map(localSources), pod, "source");
    }
    if (intent.egress.isolated) block(NODE_EGRESS_CHAIN, intent.egress.clauses, pod, "destination");
  }
  if (options.failClosedCIDRs?.length) {
    const known = hostCidrs(local).map(formatCidr);
    const blocks = options.failClosedCIDRs.map((cidr) => formatCidr(parseCidr(cidr)));
    for (const [chain, side] of [
      [NODE_INGRESS_CHAIN, "destination"],
      [NODE_EGRESS_CHAIN, "source"],
    ] as const) {
      const lines = chains.get(chain)!;
      for (const pod of known)
        lines.push(rule({ chain, [side]: pod, note: "policy computed", target: "RETURN" }));
      const note = "isolated until policy is computed";
      for (const block of blocks) lines.push(...denyRules({ chain, [side]: block, note }));
    }
  }
  const lines = [...chains.values()].flat();
  const jump = (chain: JumpRule["chain"], match: string[], note: string, target: string): JumpRule => ({
    table: "filter",
    chain,
    spec: [...match, ...comment(note), "-j", target],
    position: "first",
  });
  const dnat = ["-m", "conntrack", "--ctstate", "NEW", "-m", "conntrack", "--ctstate", "DNAT"];
  return {
    chains: ["*filter", ...[...chains.keys()].map((name) => `:${name} - [0:0]`), ...lines, "COMMIT", ""].join(
      "\n",
    ),
    jumps: [
      jump("INPUT", [], "pod ingress from other nodes", NODE_INGRESS_CHAIN),
      jump("FORWARD", ["-o", HOST_DEVICE], "pod ingress forwarded to the host device", NODE_INGRESS_CHAIN),
      jump("OUTPUT", [], "pod egress beyond the pods of the node", NODE_EGRESS_CHAIN),
      jump("OUTPUT", dnat, "service policy after DNAT", SERVICE_INGRESS_CHAIN),
    ],
    owned: { nat: [], filter: [...NODE_POLICY_CHAINS] },
    ruleCount: lines.length,
  };
}
