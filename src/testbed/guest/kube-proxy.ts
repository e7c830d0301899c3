// Service rules laid out the way kube-proxy's iptables mode lays them out, one restore payload per node:
// KUBE-SERVICES from nat PREROUTING and OUTPUT, KUBE-SVC-* → KUBE-SEP-* DNAT, KUBE-MARK-MASQ for traffic
// from outside the pod pool and for hairpin, KUBE-NODEPORTS for local destinations with external traffic
// marked for masquerade (externalTrafficPolicy: Cluster), KUBE-POSTROUTING masquerading marked packets.
// Leaves out: the filter table (KUBE-FORWARD, KUBE-FIREWALL), load balancing over several endpoints,
// session affinity, externalTrafficPolicy: Local, conntrack cleanup of UDP flows.
import { createHash } from "node:crypto";

export interface Service {
  name: string;
  clusterIP: string;
  protocol: "TCP" | "UDP";
  port: number;
  nodePort?: number;
  endpoint: { ip: string; port: number };
}

const MASQ_MARK = "0x4000/0x4000";

/** The jumps from the built-in chains, put first once per node (kube-proxy inserts them). */
export const KUBE_PROXY_JUMPS = [
  "*nat",
  ":KUBE-SERVICES - [0:0]",
  ":KUBE-POSTROUTING - [0:0]",
  '-I PREROUTING 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-I OUTPUT 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-I POSTROUTING 1 -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
  "COMMIT",
  "",
].join("\n");

function chainName(kind: "SVC" | "SEP" | "EXT", service: string): string {
  const hash = createHash("sha256").update(service).digest("hex").slice(0, 16).toUpperCase();
  return `KUBE-${kind}-${hash}`;
}

/**
 * The whole nat state kube-proxy owns on a node, for `iptables-restore --noflush`. `retired` names
 * services deleted since the last sync: their chains are flushed and removed.
 */
export function renderServiceRules(
  services: readonly Service[],
  options: { podCidr?: string; retired?: readonly string[] },
): string {
  const chains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"];
  const rules = [
    `-A KUBE-MARK-MASQ -j MARK --set-xmark ${MASQ_MARK}`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK} -j RETURN`,
    "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ];
  for (const service of services) {
    const svc = chainName("SVC", service.name);
    const sep = chainName("SEP", service.name);
    const proto = service.protocol.toLowerCase();
    const match = `-p ${proto} -m ${proto} --dport ${service.port}`;
    const label = `-m comment --comment "default/${service.name}"`;
    chains.push(svc, sep);
    rules.push(
      `-A KUBE-SERVICES -d ${service.clusterIP}/32 ${match} ${label} -j ${svc}`,
      ...(options.podCidr
        ? [`-A ${svc} ! -s ${options.podCidr} -d ${service.clusterIP}/32 ${match} -j KUBE-MARK-MASQ`]
        : []),
      `-A ${svc} ${label} -j ${sep}`,
      `-A ${sep} -s ${service.endpoint.ip}/32 -j KUBE-MARK-MASQ`,
      `-A ${sep} -p ${proto} -m ${proto} -j DNAT --to-destination ${service.endpoint.ip}:${service.endpoint.port}`,
    );
    if (service.nodePort !== undefined) {
      const ext = chainName("EXT", service.name);
      chains.push(ext);
      rules.push(
        `-A KUBE-NODEPORTS -p ${proto} -m ${proto} --dport ${service.nodePort} ${label} -j ${ext}`,
        `-A ${ext} -j KUBE-MARK-MASQ`,
        `-A ${ext} -j ${svc}`,
      );
    }
  }
  rules.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  const retired = (options.retired ?? []).flatMap((name) =>
    (["SVC", "SEP", "EXT"] as const).map((kind) => chainName(kind, name)),
  );
  return [
    "*nat",
    ...[...chains, ...retired].map((chain) => `:${chain} - [0:0]`),
    ...rules,
    ...retired.map((chain) => `-X ${chain}`),
    "COMMIT",
    "",
  ].join("\n");
}
