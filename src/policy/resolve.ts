// Resolving NetworkPolicy for one pod, without rendering: selectors become pods, ipBlocks CIDRs,
// named ports numbers. A world is indexed once (PolicyIndex); each pod's intent lists, per direction,
// whether it is isolated and what each rule of the policies selecting it allows. The pod's payload
// (pod-firewall.ts) and the node's rules (node-rules.ts) both render from these intents.
import { parseIp, type Cidr } from "../net/cidr.ts";
import { aggregateCidrs, hostCidrs, inAny, parseLooseCidr, subtractCidrs } from "../net/cidr-set.ts";
import type {
  LabelSelector,
  NetworkPolicy,
  PolicyPeer,
  PolicyPod,
  PolicyPort,
  PolicyWorld,
  Protocol,
} from "./model.ts";

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

/** A label selector as a predicate; an absent selector selects nothing (the API's "null"). */
function selectorPredicate(selector: LabelSelector | undefined): (labels: Labels) => boolean {
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
    }
  }
  return (labels) => tests.every((test) => test(labels));
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
export class PolicyIndex {
  private readonly byNamespace = new Map<string, ResolvedPolicy[]>();
  private readonly namespaceLabels = new Map<string, Labels>();
  private readonly world: PolicyWorld;
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
    const { namespace, name } = policy.metadata;
    const spec = policy.spec;
    // An empty or absent policyTypes gets the API server's defaults.
    const types = spec.policyTypes?.length
      ? spec.policyTypes
      : ["Ingress", ...((spec.egress?.length ?? 0) > 0 ? ["Egress"] : [])];
    const rules = (list: { peers?: PolicyPeer[]; ports?: PolicyPort[] }[]) =>
      list.map((rule): ResolvedRule => {
        const peers = rule.peers ?? [];
        const resolved = peers.length === 0 ? undefined : this.resolvePeers(namespace, peers);
        return {
          peers: resolved,
          addrs: resolved ? aggregateCidrs([...this.addressesOf(resolved.pods), ...resolved.cidrs]) : "any",
          ports: (rule.ports?.length ?? 0) === 0 ? undefined : rule.ports,
        };
      });
    return {
      key: `${namespace}/${name}`,
      namespace,
      selects: selectorPredicate(spec.podSelector),
      ingress: types.includes("Ingress")
        ? rules((spec.ingress ?? []).map((rule) => ({ peers: rule.from, ports: rule.ports })))
        : undefined,
      egress: types.includes("Egress")
        ? rules((spec.egress ?? []).map((rule) => ({ peers: rule.to, ports: rule.ports })))
        : undefined,
    };
  }

  private resolvePeers(policyNamespace: string, peers: PolicyPeer[]): ResolvedPeer {
    const pods = new Set<PolicyPod>();
    const cidrs: Cidr[] = [];
    for (const peer of peers) {
      if (peer.ipBlock) {
        const outer = parseLooseCidr(peer.ipBlock.cidr);
        if (!outer) continue;
        const excepts = (peer.ipBlock.except ?? []).flatMap((text) => parseLooseCidr(text) ?? []);
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

  private addressesOf(pods: readonly PolicyPod[]): Cidr[] {
    return hostCidrs(pods.map((pod) => this.ips.get(pod)!));
  }

  intent(pod: PolicyPod): PodIntent {
    const selecting = (this.byNamespace.get(pod.namespace) ?? []).filter((policy) =>
      policy.selects(pod.labels),
    );
    const direction = (which: "ingress" | "egress"): DirectionIntent => {
      const governing = selecting.flatMap((policy) => {
        const rules = policy[which];
        return rules ? [{ key: policy.key, rules }] : [];
      });
      return {
        isolated: governing.length > 0,
        clauses: governing.flatMap(({ key, rules }) =>
          rules.flatMap((rule) =>
            which === "ingress" ? ingressClauses(key, rule, pod) : this.egressClauses(key, rule),
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
      const byPorts = new Map<string, { ports: PortRange[]; destinations: PolicyPod[] }>();
      for (const destination of this.podsAmong(rule.peers)) {
        const ports = named.flatMap((port) => portRanges(port, destination));
        if (ports.length === 0) continue;
        const key = JSON.stringify(ports);
        const group = byPorts.get(key) ?? { ports, destinations: [] };
        group.destinations.push(destination);
        byPorts.set(key, group);
      }
      for (const { ports, destinations } of byPorts.values())
        clauses.push({ policy, addrs: this.addressesOf(destinations), ports });
    }
    return clauses;
  }

  /** The pods a peer list reaches: selected pods, and pods whose IP an ipBlock covers. */
  private podsAmong(peers: ResolvedPeer | undefined): PolicyPod[] {
    if (!peers) return this.world.pods;
    const found = new Set(peers.pods);
    for (const pod of this.world.pods) if (inAny(peers.cidrs, this.ips.get(pod)!)) found.add(pod);
    return [...found];
  }
}

function ingressClauses(policy: string, rule: ResolvedRule, target: PolicyPod): Clause[] {
  const addrs = rule.addrs;
  if (!rule.ports) return [{ policy, addrs, ports: "any" }];
  return [{ policy, addrs, ports: rule.ports.flatMap((port) => portRanges(port, target)) }];
}

/** A policy port as port ranges; a named port resolves against `pod` (none if it has no such port). */
function portRanges(port: PolicyPort, pod: PolicyPod | undefined): PortRange[] {
  const protocol = port.protocol ?? "TCP";
  if (port.port === undefined) return [{ protocol, from: 1, to: 65535 }];
  if (typeof port.port === "number") return [{ protocol, from: port.port, to: port.endPort ?? port.port }];
  return (pod?.ports ?? [])
    .filter((own) => own.name === port.port && own.protocol === protocol)
    .map((own) => ({ protocol, from: own.port, to: own.port }));
}
