// The reference evaluator: "may A open a connection to B on port P?", read straight from the
// networking.k8s.io/v1 API documentation, one question at a time. It shares nothing with the rule
// compiler (resolve.ts, pod-firewall.ts, node-rules.ts) but the model, so that the two check each
// other in the tests.
//
// Semantics, IPv4:
// - A pod is isolated for ingress (egress) when a policy of its namespace selects it and lists
//   Ingress (Egress) in policyTypes; omitted (or empty) policyTypes mean Ingress, plus Egress when the
//   policy has egress rules, as the API server defaults them. An isolated direction allows only what some rule of such a policy allows.
// - A connection needs the client's egress and the server's ingress to allow it.
// - Always allowed: a pod to itself, and traffic between a pod and its own node (kubelet probes).
// - Pods are known by IP, as on the wire: an ipBlock matches any address in it, pod IPs included.
// - Named ports resolve against the server pod's container ports (name and protocol must match);
//   a named port to an address that is no pod matches nothing.
// Replies of allowed connections are allowed (stateful): this function judges connection openings.
import { parseIp } from "../net/cidr.ts";
import type { NetworkPolicy, PolicyPod, PolicyWorld, Protocol } from "./model.ts";

export interface EvaluationContext {
  nodeIPOf(pod: PolicyPod): string;
}

type Selector = NonNullable<NetworkPolicy["spec"]>["podSelector"];

function selectorMatches(selector: Selector, labels: Record<string, string>): boolean {
  for (const key of Object.keys(selector.matchLabels ?? {})) {
    if (labels[key] !== selector.matchLabels![key]) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, requirement.key);
    const listed = has && (requirement.values ?? []).includes(labels[requirement.key]!);
    const ok =
      requirement.operator === "In"
        ? listed
        : requirement.operator === "NotIn"
          ? !listed
          : requirement.operator === "Exists"
            ? has
            : requirement.operator === "DoesNotExist"
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

function inBlock(ip: string, cidr: string): boolean {
  if (cidr.includes(":")) return false;
  const [network = "", bits = "32"] = cidr.split("/");
  const hostBits = 32 - Number(bits);
  // Compare the network parts; shifting by 32 is a no-op in JavaScript, so /0 is its own case.
  return hostBits === 32 || parseIp(ip) >>> hostBits === parseIp(network) >>> hostBits;
}

function labelsOfNamespace(world: PolicyWorld, name: string): Record<string, string> {
  return world.namespaces.find((namespace) => namespace.name === name)?.labels ?? {};
}

type Spec = NonNullable<NetworkPolicy["spec"]>;
type Peer = NonNullable<NonNullable<Spec["ingress"]>[number]["from"]>[number];
type Port = NonNullable<NonNullable<Spec["ingress"]>[number]["ports"]>[number];

function peerAllows(
  world: PolicyWorld,
  policyNamespace: string,
  peer: Peer,
  ip: string,
  pod: PolicyPod | undefined,
) {
  if (peer.ipBlock) {
    return (
      inBlock(ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((except) => inBlock(ip, except))
    );
  }
  if (!pod) return false;
  const namespaceOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, labelsOfNamespace(world, pod.namespace))
    : pod.namespace === policyNamespace;
  const podOk = peer.podSelector ? selectorMatches(peer.podSelector, pod.labels) : true;
  return namespaceOk && podOk;
}

function portAllows(entry: Port, port: number, protocol: Protocol, server: PolicyPod | undefined): boolean {
  if ((entry.protocol ?? "TCP") !== protocol) return false;
  if (entry.port === undefined) return true;
  if (typeof entry.port === "number") return port >= entry.port && port <= (entry.endPort ?? entry.port);
  return (server?.ports ?? []).some(
    (own) => own.name === entry.port && own.protocol === protocol && own.port === port,
  );
}

function governs(policy: NetworkPolicy, direction: "Ingress" | "Egress"): boolean {
  const types = policy.spec?.policyTypes ?? [];
  if (types.length > 0) return types.includes(direction);
  return direction === "Ingress" || (policy.spec?.egress ?? []).length > 0;
}

function policiesIsolating(
  world: PolicyWorld,
  pod: PolicyPod,
  direction: "Ingress" | "Egress",
): NetworkPolicy[] {
  return world.policies.filter(
    (policy) =>
      (policy.metadata?.namespace ?? "default") === pod.namespace &&
      selectorMatches(policy.spec?.podSelector ?? {}, pod.labels) &&
      governs(policy, direction),
  );
}

/** Does `pod`'s side allow the connection with `peerIp` (the peer pod, if it is one)? */
function allowedBy(
  world: PolicyWorld,
  pod: PolicyPod,
  direction: "Ingress" | "Egress",
  peerIp: string,
  peer: PolicyPod | undefined,
  port: number,
  protocol: Protocol,
  server: PolicyPod | undefined,
  nodeIP: string,
): boolean {
  const policies = policiesIsolating(world, pod, direction);
  if (policies.length === 0 || peerIp === nodeIP) return true;
  return policies.some((policy) =>
    ((direction === "Ingress" ? policy.spec?.ingress : policy.spec?.egress) ?? []).some((rule) => {
      const peers = ("from" in rule ? rule.from : "to" in rule ? rule.to : undefined) ?? [];
      const ports = rule.ports ?? [];
      return (
        (peers.length === 0 ||
          peers.some((entry) => peerAllows(world, pod.namespace, entry, peerIp, peer))) &&
        (ports.length === 0 || ports.some((entry) => portAllows(entry, port, protocol, server)))
      );
    }),
  );
}

/** May `from` open a connection to `to` on `port`/`protocol`? Replies are then allowed too. */
export function mayConnect(
  world: PolicyWorld,
  from: { pod?: PolicyPod; ip: string },
  to: PolicyPod | { ip: string },
  port: number,
  protocol: Protocol,
  ctx: EvaluationContext,
): boolean {
  const byIp = (ip: string) => world.pods.find((pod) => pod.ip === ip);
  const client = from.pod ?? byIp(from.ip);
  const server = "name" in to ? to : byIp(to.ip);
  if (client && server && client.namespace === server.namespace && client.name === server.name) return true;

  // The client's egress judges the server's address; the server's ingress judges the client's.
  const egressOk =
    !client ||
    allowedBy(world, client, "Egress", to.ip, server, port, protocol, server, ctx.nodeIPOf(client));
  const ingressOk =
    !server ||
    allowedBy(world, server, "Ingress", from.ip, client, port, protocol, server, ctx.nodeIPOf(server));
  return egressOk && ingressOk;
}
