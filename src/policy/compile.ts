// NetworkPolicy → iptables rules, as a pure function of (pods, namespaces, policies).
// Where a pod's packets can be filtered with ipvlan L3S (measured on the UML kernel, issue 12):
// - its own network namespace's OUTPUT sees everything the pod sends, to any node;
// - its namespace's INPUT sees what comes from pods (and the host device) of the same node only;
// - what comes from another node or outside crosses the node's INPUT instead, and what the pod sends
//   to another node or outside crosses the node's OUTPUT too;
// - a ClusterIP is DNATed in the node's nat OUTPUT, after the pod's namespace saw only the ClusterIP.
// Conntrack follows the same paths: the pod namespace's conntrack never sees a connection opened from
// another node, so the pod's reply leaves its namespace as NEW (UDP) or INVALID (a TCP SYN-ACK), never
// ESTABLISHED; only the node's conntrack sees both directions. So each pod gets one `iptables-restore
// --noflush` payload for its namespace's filter table (ingress and egress among the node's own pods),
// and each node one rule set (compileNodeRules) for what crosses it: ingress from elsewhere, egress to
// elsewhere (replies of connections from elsewhere pass there as ESTABLISHED), Services after DNAT. The reference evaluator (evaluate.ts) is written independently of this
// file; the tests run these rules through a simulator against it.
import type { ChainSet, JumpRule } from "../iptables/chain-set.ts";
import { comment as ourComment } from "../noderules/comment.ts";
import { formatCidr, parseCidr, parseIp, type Cidr } from "../net/cidr.ts";
import type { NetworkPolicy, PodKey, PolicyPod, PolicyWorld, Protocol } from "./model.ts";
import { PROTOCOLS, podKey } from "./model.ts";

export const INGRESS_CHAIN = "AKS-IPVLAN-INGRESS";
export const EGRESS_CHAIN = "AKS-IPVLAN-EGRESS";
export const NODE_EGRESS_CHAIN = "AKS-IPVLAN-POD-EGRESS";
export const SERVICE_INGRESS_CHAIN = "AKS-IPVLAN-SVC-INGRESS";
export const NODE_INGRESS_CHAIN = "AKS-IPVLAN-POD-INGRESS";

export interface FirewallOptions {
  /** The IP the pod's own node uses towards it (kubelet probes): always allowed, both ways. */
  nodeIP: string;
  /**
   * The node's pod blocks. Egress to them (the node's own pods) is judged in the pod's namespace;
   * egress anywhere else crosses the node, which judges it (compileNodeRules) with a conntrack that saw
   * both directions: the pod's namespace lets it through.
   */
  podCIDRs: readonly string[];
  /** ClusterIP range: the pod's namespace lets it pass; the node checks it after DNAT. */
  serviceCIDR?: string;
  /** Default REJECT. */
  deny?: DenyAction;
}

export interface PodFirewall {
  ingressIsolated: boolean;
  egressIsolated: boolean;
  /** Rules the payload appends (jumps included). */
  ruleCount: number;
  /** One transaction for `iptables-restore --noflush` in the pod's network namespace. */
  restore: string;
}

interface PortRange {
  protocol: Protocol;
  from: number;
  to: number;
}

/** What one policy rule allows a pod, resolved to addresses and port numbers. */
interface Clause {
  policy: string;
  /** Peer addresses ("any" when the rule has no peers). */
  addrs: Cidr[] | "any";
  ports: PortRange[] | "any";
}

interface DirectionIntent {
  isolated: boolean;
  clauses: Clause[];
}

/** A pod's resolved policy: everything its rules depend on, without rendering. */
interface PodIntent {
  ingress: DirectionIntent;
  egress: DirectionIntent;
}

type Labels = Record<string, string>;
type Selector = NonNullable<NetworkPolicy["spec"]>["podSelector"];
type PolicyPort = { protocol?: string; port?: number | string; endPort?: number };
type PolicyPeer = {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string; except?: string[] };
};

// ---------------------------------------------------------------------------------------------
// Resolution: selectors → pods, ipBlocks → CIDRs, named ports → numbers.

/** A label selector as a predicate; an absent selector selects nothing (the API's "null"). */
function selectorPredicate(selector: Selector | undefined): (labels: Labels) => boolean {
  if (!selector) return () => false;
  const tests: ((labels: Labels) => boolean)[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    tests.push((labels) => labels[key] === value);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const allowed = new Set(values);
    switch (operator) {
      case "In":
        tests.push((labels) => key in labels && allowed.has(labels[key]!));
        break;
      case "NotIn":
        tests.push((labels) => !(key in labels) || !allowed.has(labels[key]!));
        break;
      case "Exists":
        tests.push((labels) => key in labels);
        break;
      case "DoesNotExist":
        tests.push((labels) => !(key in labels));
        break;
      default:
        tests.push(() => false);
    }
  }
  return (labels) => tests.every((test) => test(labels));
}

/** cidr minus every except, as a list of CIDRs (iptables matches one CIDR per rule). */
export function subtractCidrs(outer: Cidr, excepts: Cidr[]): Cidr[] {
  const lastOf = (c: Cidr) => c.base + 2 ** (32 - c.prefix) - 1;
  const inside = (inner: Cidr, of: Cidr) => inner.base >= of.base && lastOf(inner) <= lastOf(of);
  const disjoint = (a: Cidr, b: Cidr) => lastOf(a) < b.base || lastOf(b) < a.base;
  let pieces = [outer];
  for (const except of excepts) {
    const next: Cidr[] = [];
    for (const piece of pieces) {
      if (disjoint(piece, except)) next.push(piece);
      else if (inside(piece, except)) continue;
      else {
        // except lies inside piece: split piece in halves until the except is cut out exactly.
        let current = piece;
        while (current.prefix < except.prefix) {
          const half = 2 ** (31 - current.prefix);
          const low = { base: current.base, prefix: current.prefix + 1 };
          const high = { base: current.base + half, prefix: current.prefix + 1 };
          const [keep, descend] = inside(except, low) ? [high, low] : [low, high];
          next.push(keep);
          current = descend;
        }
      }
    }
    pieces = next;
  }
  return pieces.sort((a, b) => a.base - b.base || a.prefix - b.prefix);
}

function ipv4Cidr(text: string): Cidr | undefined {
  if (text.includes(":")) return undefined;
  const [address = "", bits = "32"] = text.split("/");
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  // The API accepts host bits in an ipBlock CIDR; the kernel and iptables ignore them, and so do we.
  return { base: (parseIp(address) & mask) >>> 0, prefix };
}

interface ResolvedPeer {
  pods: PolicyPod[];
  cidrs: Cidr[];
}

interface ResolvedRule {
  /** undefined: the rule names no peers, so every address matches. */
  peers: ResolvedPeer | undefined;
  /** The peers' addresses, resolved once for every pod the rule applies to. */
  addrs: Cidr[] | "any";
  /** undefined: the rule names no ports, so every port and protocol matches. */
  ports: PolicyPort[] | undefined;
}

interface ResolvedPolicy {
  key: string;
  namespace: string;
  selects: (labels: Labels) => boolean;
  /** undefined when the policy does not govern that direction. */
  ingress: ResolvedRule[] | undefined;
  egress: ResolvedRule[] | undefined;
}

/** One world, indexed once: the policies with their peers resolved, for every pod's rules. */
class PolicyIndex {
  readonly byNamespace = new Map<string, ResolvedPolicy[]>();
  readonly namespaceLabels = new Map<string, Labels>();

  readonly world: PolicyWorld;
  private readonly ips = new Map<PolicyPod, number>();
  private readonly egressMemo = new Map<ResolvedRule, Clause[]>();

  constructor(world: PolicyWorld) {
    this.world = world;
    for (const pod of world.pods) this.ips.set(pod, parseIp(pod.ip));
    for (const namespace of world.namespaces) this.namespaceLabels.set(namespace.name, namespace.labels);
    for (const policy of world.policies) {
      const resolved = this.resolvePolicy(policy);
      const list = this.byNamespace.get(resolved.namespace) ?? [];
      list.push(resolved);
      this.byNamespace.set(resolved.namespace, list);
    }
  }

  private resolvePolicy(policy: NetworkPolicy): ResolvedPolicy {
    const namespace = policy.metadata?.namespace ?? "default";
    const spec = policy.spec ?? { podSelector: {} };
    // An empty or absent policyTypes gets the API server's defaults.
    const types = spec.policyTypes?.length
      ? spec.policyTypes
      : ["Ingress", ...((spec.egress?.length ?? 0) > 0 ? ["Egress"] : [])];
    const rules = (list: { from?: PolicyPeer[]; to?: PolicyPeer[]; ports?: PolicyPort[] }[] | undefined) =>
      (list ?? []).map((rule) => {
        const peers = rule.from ?? rule.to ?? [];
        const resolved = peers.length === 0 ? undefined : this.resolvePeers(namespace, peers);
        return {
          peers: resolved,
          addrs: resolved ? this.peerAddresses(resolved) : ("any" as const),
          ports: (rule.ports?.length ?? 0) === 0 ? undefined : rule.ports,
        };
      });
    return {
      key: `${namespace}/${policy.metadata?.name ?? ""}`,
      namespace,
      selects: selectorPredicate(spec.podSelector),
      ingress: types.includes("Ingress") ? rules(spec.ingress) : undefined,
      egress: types.includes("Egress") ? rules(spec.egress) : undefined,
    };
  }

  private resolvePeers(policyNamespace: string, peers: PolicyPeer[]): ResolvedPeer {
    const pods = new Set<PolicyPod>();
    const cidrs: Cidr[] = [];
    for (const peer of peers) {
      if (peer.ipBlock) {
        const outer = ipv4Cidr(peer.ipBlock.cidr);
        if (!outer) continue;
        const excepts = (peer.ipBlock.except ?? []).flatMap((text) => ipv4Cidr(text) ?? []);
        cidrs.push(...subtractCidrs(outer, excepts));
        continue;
      }
      const podMatches = peer.podSelector ? selectorPredicate(peer.podSelector) : () => true;
      const namespaceMatches = peer.namespaceSelector ? selectorPredicate(peer.namespaceSelector) : undefined;
      for (const pod of this.world.pods) {
        const inNamespace = namespaceMatches
          ? namespaceMatches(this.namespaceLabels.get(pod.namespace) ?? {})
          : pod.namespace === policyNamespace;
        if (inNamespace && podMatches(pod.labels)) pods.add(pod);
      }
    }
    return { pods: [...pods], cidrs };
  }

  private peerAddresses(peers: ResolvedPeer): Cidr[] {
    const pods = peers.pods.map((pod) => ({ base: this.ips.get(pod)!, prefix: 32 }));
    return aggregateCidrs([...pods, ...peers.cidrs]);
  }

  intent(pod: PolicyPod): PodIntent {
    const selecting = (this.byNamespace.get(pod.namespace) ?? []).filter((policy) =>
      policy.selects(pod.labels),
    );
    const direction = (which: "ingress" | "egress"): DirectionIntent => {
      const governing = selecting.filter((policy) => policy[which] !== undefined);
      return {
        isolated: governing.length > 0,
        clauses: governing.flatMap((policy) =>
          policy[which]!.flatMap((rule) =>
            which === "ingress"
              ? ingressClauses(policy.key, rule, pod)
              : this.egressClauses(policy.key, rule),
          ),
        ),
      };
    };
    return { ingress: direction("ingress"), egress: direction("egress") };
  }

  /** Egress named ports resolve against each destination pod, so they become per-pod clauses. */
  private egressClauses(policy: string, rule: ResolvedRule): Clause[] {
    let clauses = this.egressMemo.get(rule);
    if (!clauses) this.egressMemo.set(rule, (clauses = this.resolveEgress(policy, rule)));
    return clauses;
  }

  private resolveEgress(policy: string, rule: ResolvedRule): Clause[] {
    const addrs = rule.addrs;
    if (!rule.ports) return [{ policy, addrs, ports: "any" }];
    const numeric = rule.ports.filter((port) => typeof port.port !== "string");
    const named = rule.ports.filter((port) => typeof port.port === "string");
    const clauses: Clause[] = [];
    if (numeric.length > 0)
      clauses.push({ policy, addrs, ports: numeric.flatMap((port) => portRanges(port, undefined)) });
    if (named.length > 0) {
      const byPorts = new Map<string, Clause>();
      for (const destination of this.podsAmong(rule.peers)) {
        const ports = named.flatMap((port) => portRanges(port, destination));
        if (ports.length === 0) continue;
        const key = JSON.stringify(ports);
        const clause = byPorts.get(key) ?? { policy, addrs: [], ports };
        (clause.addrs as Cidr[]).push({ base: this.ips.get(destination)!, prefix: 32 });
        byPorts.set(key, clause);
      }
      for (const clause of byPorts.values())
        clauses.push({ ...clause, addrs: aggregateCidrs(clause.addrs as Cidr[]) });
    }
    return clauses;
  }

  /** The pods a peer list reaches: selected pods, and pods whose IP an ipBlock covers. */
  private podsAmong(peers: ResolvedPeer | undefined): PolicyPod[] {
    if (!peers) return this.world.pods;
    const found = new Set(peers.pods);
    for (const pod of this.world.pods) {
      const ip = this.ips.get(pod)!;
      if (peers.cidrs.some((cidr) => ip >= cidr.base && ip < cidr.base + 2 ** (32 - cidr.prefix)))
        found.add(pod);
    }
    return [...found];
  }
}

function ingressClauses(policy: string, rule: ResolvedRule, target: PolicyPod): Clause[] {
  const addrs = rule.addrs;
  if (!rule.ports) return [{ policy, addrs, ports: "any" }];
  return [{ policy, addrs, ports: rule.ports.flatMap((port) => portRanges(port, target)) }];
}

/**
 * The fewest CIDRs covering exactly the same addresses: nested blocks dropped, sibling halves joined
 * (pods of one node block selected together become one rule).
 */
export function aggregateCidrs(cidrs: Cidr[]): Cidr[] {
  const size = (cidr: Cidr) => 2 ** (32 - cidr.prefix);
  const sorted = [...cidrs].sort((a, b) => a.base - b.base || a.prefix - b.prefix);
  const out: Cidr[] = [];
  for (const cidr of sorted) {
    const last = out.at(-1);
    // Sorted by base, CIDRs are nested or disjoint: only the last kept block can contain this one.
    if (last && cidr.base < last.base + size(last)) continue;
    out.push(cidr);
    for (;;) {
      const high = out.at(-1)!;
      const low = out.at(-2);
      const siblings =
        low &&
        low.prefix === high.prefix &&
        low.prefix > 0 &&
        (low.base / size(low)) % 2 === 0 &&
        low.base + size(low) === high.base;
      if (!siblings) break;
      out.splice(-2, 2, { base: low.base, prefix: low.prefix - 1 });
    }
  }
  return out;
}

/** A policy port as port ranges; a named port resolves against `pod` (none if it has no such port). */
function portRanges(port: PolicyPort, pod: PolicyPod | undefined): PortRange[] {
  const protocol = (port.protocol ?? "TCP") as Protocol;
  if (port.port === undefined) return [{ protocol, from: 1, to: 65535 }];
  if (typeof port.port === "number") return [{ protocol, from: port.port, to: port.endPort ?? port.port }];
  return (pod?.ports ?? [])
    .filter((own) => own.name === port.port && own.protocol === protocol)
    .map((own) => ({ protocol, from: own.port, to: own.port }));
}

// ---------------------------------------------------------------------------------------------
// Rendering.

/** The xt_comment match takes at most 255 characters; policy names may be longer (253 + namespace). */
const MAX_COMMENT_TEXT = 255 - "aks-ipvlan: ".length;

function comment(text: string): string[] {
  return ourComment(text.slice(0, MAX_COMMENT_TEXT));
}

/** Port matches for one rule each, in iptables-save's canonical form; multiport holds 15 slots. */
function portMatches(ports: PortRange[] | "any"): string[][] {
  if (ports === "any") return [[]];
  const matches: string[][] = [];
  for (const protocol of PROTOCOLS) {
    const sorted = ports.filter((port) => port.protocol === protocol).sort((a, b) => a.from - b.from);
    const merged: PortRange[] = [];
    for (const port of sorted) {
      const last = merged.at(-1);
      if (last && port.from <= last.to + 1) last.to = Math.max(last.to, port.to);
      else merged.push({ ...port });
    }
    const proto = protocol.toLowerCase();
    const text = (port: PortRange) => (port.from === port.to ? `${port.from}` : `${port.from}:${port.to}`);
    if (merged.length === 1 && merged[0]!.from === 1 && merged[0]!.to === 65535) {
      matches.push(["-p", proto]);
      continue;
    }
    let chunk: PortRange[] = [];
    let slots = 0;
    const flush = () => {
      if (chunk.length === 1) matches.push(["-p", proto, "-m", proto, "--dport", text(chunk[0]!)]);
      else if (chunk.length > 1)
        matches.push(["-p", proto, "-m", "multiport", "--dports", chunk.map(text).join(",")]);
      chunk = [];
      slots = 0;
    };
    for (const port of merged) {
      const cost = port.from === port.to ? 1 : 2;
      if (slots + cost > 15) flush();
      chunk.push(port);
      slots += cost;
    }
    flush();
  }
  return matches;
}

interface RuleParts {
  chain: string;
  source?: string;
  destination?: string;
  match?: string[];
  note?: string;
  target: string;
}

/** One `-A` line, its parts in the order iptables-save prints them (so saved and wanted compare equal). */
function rule(parts: RuleParts): string {
  let line = `-A ${parts.chain}`;
  if (parts.source) line += ` -s ${parts.source}`;
  if (parts.destination) line += ` -d ${parts.destination}`;
  if (parts.match && parts.match.length > 0) line += ` ${parts.match.join(" ")}`;
  if (parts.note) line += ` ${comment(parts.note).join(" ")}`;
  return `${line} -j ${parts.target}`;
}

/**
 * The rules of one clause: one per (peer address × protocol port group). `fixed` is the other end
 * (the pod, in node-side rules), `peerSide` says whether the peer is the source or the destination.
 */
function clauseRules(
  clause: Clause,
  chain: string,
  peerSide: "source" | "destination",
  target: string,
  fixed: Partial<Pick<RuleParts, "source" | "destination">> = {},
): string[] {
  const addrs = clause.addrs === "any" ? [undefined] : clause.addrs.map(formatCidr);
  const matches = portMatches(clause.ports);
  const note = `policy ${clause.policy}`;
  const lines: string[] = [];
  for (const addr of addrs)
    for (const match of matches) lines.push(rule({ chain, ...fixed, [peerSide]: addr, match, note, target }));
  return lines;
}

const ESTABLISHED = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"];

function hostCidr(ip: string): string {
  return formatCidr({ base: parseIp(ip), prefix: 32 });
}

/** How a chain ends for traffic no policy allows. REJECT fails clients fast (TCP reset, ICMP). */
export type DenyAction = "REJECT" | "DROP";

function denyRules(parts: Omit<RuleParts, "target">, deny: DenyAction): string[] {
  if (deny === "DROP") return [rule({ ...parts, target: "DROP" })];
  return [
    rule({ ...parts, match: ["-p", "tcp"], target: "REJECT --reject-with tcp-reset" }),
    rule({ ...parts, target: "REJECT --reject-with icmp-port-unreachable" }),
  ];
}

/** A pod's own chain for one direction; "isolate" allows only what is always allowed. */
function podChain(
  direction: "ingress" | "egress",
  intent: DirectionIntent | "isolate",
  options: Pick<FirewallOptions, "nodeIP" | "deny" | "serviceCIDR"> & { podCIDRs?: readonly string[] },
): string[] {
  const ingress = direction === "ingress";
  const chain = ingress ? INGRESS_CHAIN : EGRESS_CHAIN;
  const peerSide = ingress ? "source" : "destination";
  const lines = [
    rule({ chain, match: ESTABLISHED, target: "ACCEPT" }),
    rule({ chain, match: [ingress ? "-i" : "-o", "lo"], target: "ACCEPT" }),
    rule({ chain, [peerSide]: hostCidr(options.nodeIP), note: "own node", target: "ACCEPT" }),
  ];
  if (intent === "isolate") {
    return [
      ...lines,
      ...denyRules({ chain, note: "isolated until policy is computed" }, options.deny ?? "REJECT"),
    ];
  }
  if (!ingress && options.serviceCIDR) {
    const destination = formatCidr(parseCidr(options.serviceCIDR));
    lines.push(
      rule({ chain, destination, note: "service: checked on the node after DNAT", target: "ACCEPT" }),
    );
  }
  for (const clause of intent.clauses) lines.push(...clauseRules(clause, chain, peerSide, "ACCEPT"));
  const note = `${direction} not allowed by policy`;
  if (ingress) return [...lines, ...denyRules({ chain, note }, options.deny ?? "REJECT")];
  // Egress: denied here only towards the node's own pods; the rest is the node's to judge.
  const local = (options.podCIDRs ?? []).map((cidr) => formatCidr(parseCidr(cidr)));
  return [
    ...lines,
    ...local.flatMap((destination) => denyRules({ chain, destination, note }, options.deny ?? "REJECT")),
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
export function isolatedFirewall(options: Pick<FirewallOptions, "nodeIP" | "deny">): PodFirewall {
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

/**
 * What a pod's rules are made of, as text: isolation and each clause rendered (with a placeholder
 * chain), so two policies that yield the same rules (an empty peer set, ports in another order) compare
 * equal. The pod's payload and its part of the node rules are functions of this and the node's IP.
 */
function rulesKey(intent: PodIntent): string {
  const lines = (which: DirectionIntent, side: "source" | "destination") =>
    which.isolated ? which.clauses.flatMap((clause) => clauseRules(clause, "-", side, "-")) : ["open"];
  return [...lines(intent.ingress, "source"), "|", ...lines(intent.egress, "destination")].join("\n");
}

function rulesKeys(world: PolicyWorld): Map<PodKey, string> {
  const index = new PolicyIndex(world);
  return new Map(world.pods.map((pod) => [podKey(pod), rulesKey(index.intent(pod))]));
}

/**
 * The pods whose rules differ between two worlds: added and removed pods, and every pod whose
 * isolation or rendered clauses changed. Pods not named keep their rules.
 */
export function podsAffected(before: PolicyWorld, after: PolicyWorld): Set<PodKey> {
  const old = rulesKeys(before);
  const current = rulesKeys(after);
  const affected = new Set<PodKey>();
  for (const [key, rules] of current) if (old.get(key) !== rules) affected.add(key);
  for (const key of old.keys()) if (!current.has(key)) affected.add(key);
  return affected;
}

// ---------------------------------------------------------------------------------------------
// The node side: ingress from other nodes, and Services.

/** A jump into a node chain; planRules takes it once JumpRule's chain union includes INPUT. */
type NodeJump = Omit<JumpRule, "chain"> & { chain: "INPUT" | "OUTPUT" };

/** Same shape as the node's other rules (iptables/chain-set.ts ChainSet), for planRules and planCleanup. */
export interface NodePolicyRules extends Omit<ChainSet, "jumps"> {
  jumps: NodeJump[];
  ruleCount: number;
}

/**
 * What the node's own filter table must check for its pods, because the pods' namespaces do not see it
 * (measured on the UML kernel, ipvlan L3S):
 * - POD-INGRESS, from INPUT: a packet from another node (or outside) reaches a pod through the node's
 *   INPUT and never crosses the pod namespace's INPUT; each ingress-isolated local pod's allowed
 *   sources are checked here.
 * - POD-EGRESS, from OUTPUT: what a pod sends beyond the node's own pods (the pod's namespace lets it
 *   through), and a ClusterIP connection after kube-proxy's DNAT (nat OUTPUT) against the backend's
 *   address. Replies of connections opened from another node are ESTABLISHED here (this conntrack saw
 *   the request in INPUT), where the pod's namespace took them for new.
 * - SVC-INGRESS, from OUTPUT for new DNATed connections: before the same-node hairpin SNAT
 *   (POSTROUTING), a same-node backend's ingress is checked against the client's address (the backend's
 *   namespace will see the node IP).
 * Allowed packets RETURN (so every check runs and later rules of the built-in chain still apply);
 * anything else to or from such a pod is denied.
 */
export function compileNodeRules(
  world: PolicyWorld,
  nodePods: PolicyPod[],
  options: {
    nodeIP: string;
    deny?: DenyAction;
    /**
     * Fail-closed beyond the node: this node's pod blocks. Ingress from other nodes to an address in
     * them that is no pod of `nodePods` (a sandbox whose policy is not computed yet), and its egress
     * beyond the node, are denied here, as the isolate payload denies them in the pod's namespace;
     * `nodePods` that no policy isolates pass.
     */
    failClosedCIDRs?: string[];
  },
): NodePolicyRules {
  const index = new PolicyIndex(world);
  const deny = options.deny ?? "REJECT";
  const node = hostCidr(options.nodeIP);
  // Only this node's pods (and the node) originate packets in its OUTPUT, so an ingress clause there
  // needs no address beyond theirs: a CIDR like 0.0.0.0/0-minus-private shrinks to the pods it covers.
  const local = nodePods.map((pod) => parseIp(pod.ip));
  const localSources = (clause: Clause): Clause => {
    if (clause.addrs === "any") return clause;
    const addrs = clause.addrs;
    const covered = local.filter((ip) =>
      addrs.some((cidr) => ip >= cidr.base && ip < cidr.base + 2 ** (32 - cidr.prefix)),
    );
    return { ...clause, addrs: aggregateCidrs(covered.map((base) => ({ base, prefix: 32 }))) };
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
      ...denyRules({ chain, ...self, note: `${direction} of ${podKey(pod)} not allowed by policy` }, deny),
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
    const known = aggregateCidrs(local.map((base) => ({ base, prefix: 32 }))).map(formatCidr);
    const blocks = options.failClosedCIDRs.map((cidr) => formatCidr(parseCidr(cidr)));
    for (const [chain, side] of [
      [NODE_INGRESS_CHAIN, "destination"],
      [NODE_EGRESS_CHAIN, "source"],
    ] as const) {
      const lines = chains.get(chain)!;
      for (const pod of known)
        lines.push(rule({ chain, [side]: pod, note: "policy computed", target: "RETURN" }));
      const note = "isolated until policy is computed";
      for (const block of blocks) lines.push(...denyRules({ chain, [side]: block, note }, deny));
    }
  }
  const lines = [...chains.values()].flat();
  const jump = (chain: "INPUT" | "OUTPUT", match: string[], note: string, target: string): NodeJump => ({
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
      jump("OUTPUT", [], "pod egress beyond the node's pods", NODE_EGRESS_CHAIN),
      jump("OUTPUT", dnat, "service policy after DNAT", SERVICE_INGRESS_CHAIN),
    ],
    owned: { nat: [], filter: [...chains.keys()] },
    ruleCount: lines.length,
  };
}
