// A pod's own firewall: the `iptables-restore --noflush` payload for the filter table of its network
// namespace. Where a pod's packets can be filtered with ipvlan L3S (measured on the UML kernel, issue
// 12): its namespace's OUTPUT sees everything the pod sends, to any node; its INPUT sees only what
// comes from pods (and the host device) of the same node — in routing.mode vxlan also other nodes'
// pods, whose tunnelled packets reach it through the host device. So the payload judges ingress and
// egress among the node's own pods; egress beyond them, ingress from elsewhere and Services after DNAT
// are the node's to judge (node-rules.ts), whose conntrack sees both directions. The reference
// evaluator (evaluate.ts) is written independently; the tests run these rules through a simulator
// against it.
import { formatCidr, overlaps, parseCidr } from "../net/cidr.ts";
import { podKey, type PodKey, type PolicyPod, type PolicyWorld } from "./model.ts";
import { PolicyIndex, type DirectionIntent, type PodIntent } from "./resolve.ts";
import { ESTABLISHED, clauseRules, denyRules, hostCidr, rule } from "./rules.ts";

export const INGRESS_CHAIN = "AKS-IPVLAN-INGRESS";
export const EGRESS_CHAIN = "AKS-IPVLAN-EGRESS";

export interface FirewallOptions {
  /** The IP the pod's own node uses towards it (kubelet probes): always allowed, both ways. */
  nodeIP: string;
  /**
   * The node's pod blocks. Egress to them (the node's own pods) is judged in the pod's namespace;
   * egress anywhere else crosses the node, which judges it (node-rules.ts) with a conntrack that saw
   * both directions: the pod's namespace lets it through.
   */
  podCIDRs: readonly string[];
  /** ClusterIP range: the pod's namespace lets it pass; the node checks it after DNAT. */
  serviceCIDR?: string;
  /** The cluster's pod pool: the Service ACCEPT must never cover it (see serviceDestination). */
  podPool?: readonly string[];
}

export interface PodFirewall {
  ingressIsolated: boolean;
  egressIsolated: boolean;
  /** Rules the payload appends (jumps included). */
  ruleCount: number;
  /** One transaction for `iptables-restore --noflush` in the pod's network namespace. */
  restore: string;
}

/**
 * The ClusterIP range the pod's egress lets through unjudged. Defense in depth (the spec validates
 * serviceCidr too): an ACCEPT covering the node's blocks or the pod pool would let a pod reach any
 * other pod past its egress policy, so such a range is refused here rather than rendered.
 */
export function serviceDestination(serviceCIDR: string, podAddresses: readonly string[]): string {
  const service = parseCidr(serviceCIDR);
  const covered = podAddresses.filter((cidr) => overlaps(service, parseCidr(cidr)));
  if (covered.length > 0) {
    throw new Error(
      `serviceCidr ${serviceCIDR} overlaps pod addresses (${covered.join(", ")}): its ACCEPT would bypass egress policy; give the cluster a serviceCidr outside the pod pool`,
    );
  }
  return formatCidr(service);
}

/** A pod's own chain for one direction; "isolate" allows only what is always allowed. */
function podChain(
  direction: "ingress" | "egress",
  intent: DirectionIntent | "isolate",
  options: Pick<FirewallOptions, "nodeIP"> & Partial<FirewallOptions>,
): string[] {
  const ingress = direction === "ingress";
  const chain = ingress ? INGRESS_CHAIN : EGRESS_CHAIN;
  const peerSide = ingress ? "source" : "destination";
  const lines = [
    rule({ chain, match: ESTABLISHED, target: "ACCEPT" }),
    rule({ chain, match: [ingress ? "-i" : "-o", "lo"], target: "ACCEPT" }),
    rule({ chain, [peerSide]: hostCidr(options.nodeIP), note: "own node", target: "ACCEPT" }),
  ];
  if (intent === "isolate")
    return [...lines, ...denyRules({ chain, note: "isolated until policy is computed" })];
  const podCIDRs = options.podCIDRs ?? [];
  if (!ingress && options.serviceCIDR) {
    const destination = serviceDestination(options.serviceCIDR, [...podCIDRs, ...(options.podPool ?? [])]);
    lines.push(
      rule({ chain, destination, note: "service: checked on the node after DNAT", target: "ACCEPT" }),
    );
  }
  for (const clause of intent.clauses) lines.push(...clauseRules(clause, chain, peerSide, "ACCEPT"));
  const note = `${direction} not allowed by policy`;
  if (ingress) return [...lines, ...denyRules({ chain, note })];
  // Egress: denied here only towards the node's own pods; the rest is the node's to judge.
  return [
    ...lines,
    ...podCIDRs.flatMap((cidr) => denyRules({ chain, destination: formatCidr(parseCidr(cidr)), note })),
    rule({ chain, note: "another node or outside: checked by the node", target: "ACCEPT" }),
  ];
}

// The pod's namespace is ours: nothing else on this datapath writes its filter INPUT/OUTPUT, so the
// payload flushes them and adds back exactly one jump each. Declaring our chains (`:NAME - [0:0]`)
// creates or flushes them; with the jumps in the same COMMIT the replacement is atomic and a re-apply
// never duplicates a jump. No other chain of ours exists in the pod's namespace, so none goes stale.
const POD_PAYLOAD_HEAD = [
  "*filter",
  `:${INGRESS_CHAIN} - [0:0]`,
  `:${EGRESS_CHAIN} - [0:0]`,
  "-F INPUT",
  "-F OUTPUT",
];

function podPayload(ingress: string[], egress: string[]): { restore: string; ruleCount: number } {
  const lines = [
    ...POD_PAYLOAD_HEAD,
    `-A INPUT -j ${INGRESS_CHAIN}`,
    `-A OUTPUT -j ${EGRESS_CHAIN}`,
    ...ingress,
    ...egress,
    "COMMIT",
    "",
  ];
  return { restore: lines.join("\n"), ruleCount: 2 + ingress.length + egress.length };
}

/** Removes our jumps and chains from a pod's namespace (the pod is selected by no policy). */
export function noPolicyFirewall(): PodFirewall {
  const restore = [...POD_PAYLOAD_HEAD, `-X ${INGRESS_CHAIN}`, `-X ${EGRESS_CHAIN}`, "COMMIT", ""].join("\n");
  return { ingressIsolated: false, egressIsolated: false, ruleCount: 0, restore };
}

/** Fail-closed: a pod that may be selected starts with only replies, loopback and its node allowed. */
export function isolatedFirewall(options: Pick<FirewallOptions, "nodeIP">): PodFirewall {
  return {
    ingressIsolated: true,
    egressIsolated: true,
    ...podPayload(podChain("ingress", "isolate", options), podChain("egress", "isolate", options)),
  };
}

function firewallFromIntent(intent: PodIntent, options: FirewallOptions): PodFirewall {
  if (!intent.ingress.isolated && !intent.egress.isolated) return noPolicyFirewall();
  const payload = podPayload(
    intent.ingress.isolated ? podChain("ingress", intent.ingress, options) : [],
    intent.egress.isolated ? podChain("egress", intent.egress, options) : [],
  );
  return { ingressIsolated: intent.ingress.isolated, egressIsolated: intent.egress.isolated, ...payload };
}

/** The firewall of one pod. For many pods of one world, `compilePodFirewalls` indexes it once. */
export function compilePodFirewall(
  world: PolicyWorld,
  pod: PolicyPod,
  options: FirewallOptions,
): PodFirewall {
  return firewallFromIntent(new PolicyIndex(world).intent(pod), options);
}

/** The firewall of each given pod, keyed by podKey; `nodeIPOf` and `podCIDRsOf` describe its node. */
export function compilePodFirewalls(
  world: PolicyWorld,
  pods: PolicyPod[],
  options: Omit<FirewallOptions, "nodeIP" | "podCIDRs"> & {
    nodeIPOf: (pod: PolicyPod) => string;
    podCIDRsOf: (pod: PolicyPod) => readonly string[];
  },
): Map<PodKey, PodFirewall> {
  const index = new PolicyIndex(world);
  return new Map(
    pods.map((pod) => [
      podKey(pod),
      firewallFromIntent(index.intent(pod), {
        ...options,
        nodeIP: options.nodeIPOf(pod),
        podCIDRs: options.podCIDRsOf(pod),
      }),
    ]),
  );
}
