// NetworkPolicy → iptables rules, as a pure function of (pods, namespaces, policies).
// Each pod gets one `iptables-restore --noflush` payload for the filter table of ITS OWN network
// namespace: with ipvlan L3S that is the only place every packet of the pod passes, same node or not.
// The node gets a second, small rule set that checks traffic to Services after kube-proxy's DNAT,
// which the pod's namespace cannot (it sees the ClusterIP). The reference evaluator (evaluate.ts) is
// written independently of this file; the tests run these rules through a simulator against it.
import type { ChainSet as NodeRules, JumpRule } from "../iptables/chain-set.ts";
import { formatCidr, parseCidr, parseIp, type Cidr } from "../net/cidr.ts";
import type { NetworkPolicy, PodKey, PolicyPod, PolicyWorld, Protocol } from "./model.ts";
import { PROTOCOLS, podKey } from "./model.ts";

export const INGRESS_CHAIN = "AKS-IPVLAN-INGRESS";
export const EGRESS_CHAIN = "AKS-IPVLAN-EGRESS";
export const SERVICE_EGRESS_CHAIN = "AKS-IPVLAN-SVC-EGRESS";
export const SERVICE_INGRESS_CHAIN = "AKS-IPVLAN-SVC-INGRESS";

export interface FirewallOptions {
  /** The IP the pod's own node uses towards it (kubelet probes): always allowed, both ways. */
  nodeIP: string;
  /** ClusterIP range: the pod's namespace lets it pass; the node checks it after DNAT. */
  serviceCIDR?: string;
}

export interface PodFirewall {
  ingressIsolated: boolean;
  egressIsolated: boolean;
  /** Rules the payload appends (jumps included). */
  ruleCount: number;
  /** One transaction for `iptables-restore --noflush` in the pod's network namespace. */
  restore: string;
}

export interface PortRange {
  protocol: Protocol;
  from: number;
  to: number;
}

/** What one policy rule allows a pod, resolved to addresses and port numbers. */
export interface Clause {
  policy: string;
  /** Peer addresses ("any" when the rule has no peers). */
  addrs: Cidr[] | "any";
  ports: PortRange[] | "any";
}

export interface DirectionIntent {
  isolated: boolean;
  clauses: Clause[];
}

/** A pod's resolved policy: everything its rules depend on, without rendering. */
export interface PodIntent {
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

  constructor(world: PolicyWorld) {
    this.world = world;
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
    const types = spec.policyTypes ?? ["Ingress", ...((spec.egress?.length ?? 0) > 0 ? ["Egress"] : [])];
    const rules = (list: { from?: PolicyPeer[]; to?: PolicyPeer[]; ports?: PolicyPort[] }[] | undefined) =>
      (list ?? []).map((rule) => {
        const peers = rule.from ?? rule.to ?? [];
        return {
          peers: peers.length === 0 ? undefined : this.resolvePeers(namespace, peers),
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
    const addrs = rule.peers ? peerAddresses(rule.peers) : "any";
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
        (clause.addrs as Cidr[]).push({ base: parseIp(destination.ip), prefix: 32 });
        byPorts.set(key, clause);
      }
      clauses.push(...byPorts.values());
    }
    return clauses;
  }

  /** The pods a peer list reaches: selected pods, and pods whose IP an ipBlock covers. */
  private podsAmong(peers: ResolvedPeer | undefined): PolicyPod[] {
    if (!peers) return this.world.pods;
    const found = new Set(peers.pods);
    for (const pod of this.world.pods) {
      const ip = parseIp(pod.ip);
      if (peers.cidrs.some((cidr) => ip >= cidr.base && ip < cidr.base + 2 ** (32 - cidr.prefix)))
        found.add(pod);
    }
    return [...found];
  }
}

function ingressClauses(policy: string, rule: ResolvedRule, target: PolicyPod): Clause[] {
  const addrs = rule.peers ? peerAddresses(rule.peers) : "any";
  if (!rule.ports) return [{ policy, addrs, ports: "any" }];
  return [{ policy, addrs, ports: rule.ports.flatMap((port) => portRanges(port, target)) }];
}

function peerAddresses(peers: ResolvedPeer): Cidr[] {
  const seen = new Set<string>();
  const out: Cidr[] = [];
  for (const cidr of [...peers.pods.map((pod) => ({ base: parseIp(pod.ip), prefix: 32 })), ...peers.cidrs]) {
    const key = formatCidr(cidr);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(cidr);
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

function comment(text: string): string[] {
  return ["-m", "comment", "--comment", `"aks-ipvlan: ${text}"`];
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
  return [
    "-A",
    parts.chain,
    ...(parts.source ? ["-s", parts.source] : []),
    ...(parts.destination ? ["-d", parts.destination] : []),
    ...(parts.match ?? []),
    ...(parts.note ? comment(parts.note) : []),
    "-j",
    parts.target,
  ].join(" ");
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
  const lines: string[] = [];
  for (const addr of addrs)
    for (const match of portMatches(clause.ports))
      lines.push(rule({ chain, ...fixed, [peerSide]: addr, match, note: `policy ${clause.policy}`, target }));
  return lines;
}

const ESTABLISHED = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"];

function hostCidr(ip: string): string {
  return formatCidr({ base: parseIp(ip), prefix: 32 });
}

function ingressChain(intent: DirectionIntent | "isolate", nodeIP: string): string[] {
  const chain = INGRESS_CHAIN;
  return [
    rule({ chain, match: ESTABLISHED, target: "ACCEPT" }),
    rule({ chain, match: ["-i", "lo"], target: "ACCEPT" }),
    rule({ chain, source: hostCidr(nodeIP), note: "own node (kubelet probes)", target: "ACCEPT" }),
    ...(intent === "isolate"
      ? []
      : intent.clauses.flatMap((clause) => clauseRules(clause, chain, "source", "ACCEPT"))),
    rule({
      chain,
      note: intent === "isolate" ? "isolated until policy is computed" : "ingress not allowed by policy",
      target: "DROP",
    }),
  ];
}

function egressChain(intent: DirectionIntent | "isolate", options: FirewallOptions): string[] {
  const chain = EGRESS_CHAIN;
  const service =
    options.serviceCIDR && intent !== "isolate"
      ? [
          rule({
            chain,
            destination: formatCidr(parseCidr(options.serviceCIDR)),
            note: "service: checked on the node after DNAT",
            target: "ACCEPT",
          }),
        ]
      : [];
  return [
    rule({ chain, match: ESTABLISHED, target: "ACCEPT" }),
    rule({ chain, match: ["-o", "lo"], target: "ACCEPT" }),
    rule({ chain, destination: hostCidr(options.nodeIP), note: "own node", target: "ACCEPT" }),
    ...service,
    ...(intent === "isolate"
      ? []
      : intent.clauses.flatMap((clause) => clauseRules(clause, chain, "destination", "ACCEPT"))),
    rule({
      chain,
      note: intent === "isolate" ? "isolated until policy is computed" : "egress not allowed by policy",
      target: "DROP",
    }),
  ];
}

// The pod's namespace is ours: nothing else on this datapath writes its filter INPUT/OUTPUT, so the
// payload flushes them and adds back exactly one jump each. Declaring our chains (`:NAME - [0:0]`)
// creates or flushes them; with the jumps in the same COMMIT the replacement is atomic and a re-apply
// never duplicates a jump. No other chain of ours exists in the pod's namespace, so none goes stale.
function podPayload(ingress: string[], egress: string[]): { restore: string; ruleCount: number } {
  const lines = [
    "*filter",
    `:${INGRESS_CHAIN} - [0:0]`,
    `:${EGRESS_CHAIN} - [0:0]`,
    "-F INPUT",
    "-F OUTPUT",
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
  const restore = [
    "*filter",
    `:${INGRESS_CHAIN} - [0:0]`,
    `:${EGRESS_CHAIN} - [0:0]`,
    "-F INPUT",
    "-F OUTPUT",
    `-X ${INGRESS_CHAIN}`,
    `-X ${EGRESS_CHAIN}`,
    "COMMIT",
    "",
  ].join("\n");
  return { ingressIsolated: false, egressIsolated: false, ruleCount: 0, restore };
}

/** Fail-closed: a pod that may be selected starts with only replies, loopback and its node allowed. */
export function isolatedFirewall(options: FirewallOptions): PodFirewall {
  return {
    ingressIsolated: true,
    egressIsolated: true,
    ...podPayload(ingressChain("isolate", options.nodeIP), egressChain("isolate", options)),
  };
}

function firewallFromIntent(intent: PodIntent, options: FirewallOptions): PodFirewall {
  if (!intent.ingress.isolated && !intent.egress.isolated) return noPolicyFirewall();
  const payload = podPayload(
    intent.ingress.isolated ? ingressChain(intent.ingress, options.nodeIP) : [],
    intent.egress.isolated ? egressChain(intent.egress, options) : [],
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

/** The firewall of each given pod, keyed by podKey; `nodeIPOf` gives each pod's node IP. */
export function compilePodFirewalls(
  world: PolicyWorld,
  pods: PolicyPod[],
  options: { nodeIPOf: (pod: PolicyPod) => string; serviceCIDR?: string },
): Map<PodKey, PodFirewall> {
  const index = new PolicyIndex(world);
  return new Map(
    pods.map((pod) => [
      podKey(pod),
      firewallFromIntent(index.intent(pod), {
        nodeIP: options.nodeIPOf(pod),
        serviceCIDR: options.serviceCIDR,
      }),
    ]),
  );
}

/** The resolved policy of each pod of a world (what podsAffected compares). */
export function podIntents(world: PolicyWorld): Map<PodKey, PodIntent> {
  const index = new PolicyIndex(world);
  return new Map(world.pods.map((pod) => [podKey(pod), index.intent(pod)]));
}

/**
 * The pods whose rules differ between two worlds: added and removed pods, and every pod whose
 * resolved policy (isolation, peers' addresses, ports) changed. Pods not named keep their rules.
 */
export function podsAffected(before: PolicyWorld, after: PolicyWorld): Set<PodKey> {
  const old = podIntents(before);
  const current = podIntents(after);
  const affected = new Set<PodKey>();
  for (const [key, intent] of current) {
    const previous = old.get(key);
    if (!previous || JSON.stringify(previous) !== JSON.stringify(intent)) affected.add(key);
  }
  for (const key of old.keys()) if (!current.has(key)) affected.add(key);
  return affected;
}

// ---------------------------------------------------------------------------------------------
// The node side: Services.

export interface NodeServiceRules extends NodeRules {
  ruleCount: number;
}

/**
 * Policy for Service traffic of this node's pods, checked in the node's filter OUTPUT after
 * kube-proxy's DNAT (nat OUTPUT) and before the same-node hairpin SNAT (POSTROUTING):
 * SVC-EGRESS holds each egress-isolated local pod's allowed destinations, SVC-INGRESS each
 * ingress-isolated local pod's allowed sources. Allowed packets RETURN (so both checks run),
 * anything else from or to such a pod is dropped. Only new DNATed connections enter the chains.
 * A backend on another node checks its ingress in its own namespace, where the source is kept.
 */
export function compileNodeServiceRules(
  world: PolicyWorld,
  nodePods: PolicyPod[],
  options: { nodeIP: string },
): NodeServiceRules {
  const index = new PolicyIndex(world);
  const node = hostCidr(options.nodeIP);
  const egress: string[] = [];
  const ingress: string[] = [];
  for (const pod of nodePods) {
    const intent = index.intent(pod);
    const self = hostCidr(pod.ip);
    if (intent.egress.isolated) {
      const chain = SERVICE_EGRESS_CHAIN;
      egress.push(rule({ chain, source: self, destination: node, note: "own node", target: "RETURN" }));
      for (const clause of intent.egress.clauses)
        egress.push(...clauseRules(clause, chain, "destination", "RETURN", { source: self }));
      egress.push(
        rule({ chain, source: self, note: `egress of ${podKey(pod)} not allowed by policy`, target: "DROP" }),
      );
    }
    if (intent.ingress.isolated) {
      const chain = SERVICE_INGRESS_CHAIN;
      ingress.push(rule({ chain, source: node, destination: self, note: "own node", target: "RETURN" }));
      for (const clause of intent.ingress.clauses)
        ingress.push(...clauseRules(clause, chain, "source", "RETURN", { destination: self }));
      ingress.push(
        rule({
          chain,
          destination: self,
          note: `ingress of ${podKey(pod)} not allowed by policy`,
          target: "DROP",
        }),
      );
    }
  }
  const chains = [
    "*filter",
    `:${SERVICE_EGRESS_CHAIN} - [0:0]`,
    `:${SERVICE_INGRESS_CHAIN} - [0:0]`,
    ...egress,
    ...ingress,
    "COMMIT",
    "",
  ].join("\n");
  const jump = (target: string): JumpRule => ({
    table: "filter",
    chain: "OUTPUT",
    spec: [
      "-m",
      "conntrack",
      "--ctstate",
      "NEW",
      "-m",
      "conntrack",
      "--ctstate",
      "DNAT",
      ...comment("service policy after DNAT"),
      "-j",
      target,
    ],
    position: "first",
  });
  return {
    chains,
    jumps: [jump(SERVICE_EGRESS_CHAIN), jump(SERVICE_INGRESS_CHAIN)],
    owned: { nat: [], filter: [SERVICE_EGRESS_CHAIN, SERVICE_INGRESS_CHAIN] },
    ruleCount: egress.length + ingress.length,
  };
}
