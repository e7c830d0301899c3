// The node's iptables rules: dedicated chains, replaced as a whole by one `iptables-restore --noflush`,
// and the jump rules that lead into them from the built-in chains.
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import { HOST_DEVICE } from "../hostpath/desired.ts";

export const POSTROUTING_CHAIN = "AKS-IPVLAN-POSTROUTING";
export const MASQ_CHAIN = "AKS-IPVLAN-MASQ";
export const OUTPUT_CHAIN = "AKS-IPVLAN-OUTPUT";
export const WIRESERVER = "168.63.129.16";
export const WIRESERVER_TCP_PORTS = [80, 32526];
export const IMDS = "169.254.169.254";
const LINK_LOCAL = "169.254.0.0/16";

export interface JumpRule {
  table: "nat" | "filter";
  chain: "POSTROUTING" | "OUTPUT" | "INPUT";
  /** The rule after `-A CHAIN`, as iptables-save prints it. */
  spec: string[];
  /** Security rules go first in their chain; NAT rules append. */
  position: "first" | "last";
}

export interface NodeRules {
  /** Input for `iptables-restore --noflush`: declares (and so flushes) only our chains. */
  chains: string;
  jumps: JumpRule[];
  /** Every chain we own, per table: the cleanup deletes exactly these. */
  owned: { nat: string[]; filter: string[] };
}

function comment(text: string): string[] {
  return ["-m", "comment", "--comment", `"aks-ipvlan: ${text}"`];
}

export function renderNodeRules(spec: ClusterSpec, node: NodePlan): NodeRules {
  const blocks = node.blocks.map((block) => block.cidr);
  const nat: string[][] = [];
  for (const block of blocks) {
    nat.push([
      "-A",
      POSTROUTING_CHAIN,
      "-s",
      block,
      "-o",
      HOST_DEVICE,
      ...comment("same-node service hairpin, reply returns via the host device"),
      "-j",
      "SNAT",
      "--to-source",
      node.ip,
    ]);
    nat.push([
      "-A",
      POSTROUTING_CHAIN,
      "-s",
      block,
      ...comment("pod traffic may need masquerade"),
      "-j",
      MASQ_CHAIN,
    ]);
  }
  const keep = [...spec.masquerade.nonMasqueradeCIDRs];
  if (!spec.masquerade.masqLinkLocal) keep.push(LINK_LOCAL);
  for (const cidr of keep)
    nat.push(["-A", MASQ_CHAIN, "-d", cidr, ...comment("no masquerade"), "-j", "RETURN"]);
  nat.push([
    "-A",
    MASQ_CHAIN,
    ...comment("outbound pod traffic leaves with the node IP"),
    "-j",
    "MASQUERADE",
    ...(spec.masquerade.randomFully ? ["--random-fully"] : []),
  ]);

  const filter: string[][] = [];
  for (const block of blocks) {
    filter.push([
      "-A",
      OUTPUT_CHAIN,
      "-s",
      block,
      "-d",
      `${WIRESERVER}/32`,
      "-p",
      "tcp",
      "-m",
      "multiport",
      "--dports",
      WIRESERVER_TCP_PORTS.join(","),
      ...comment("pods must not reach the Azure wireserver"),
      "-j",
      "REJECT",
      "--reject-with",
      "tcp-reset",
    ]);
    if (spec.metadataAccess.imds === "block") {
      filter.push([
        "-A",
        OUTPUT_CHAIN,
        "-s",
        block,
        "-d",
        `${IMDS}/32`,
        ...comment("pods must not reach IMDS"),
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-port-unreachable",
      ]);
    }
  }

  const table = (name: string, chains: string[], rules: string[][]) => [
    `*${name}`,
    ...chains.map((chain) => `:${chain} - [0:0]`),
    ...rules.map((rule) => rule.join(" ")),
    "COMMIT",
  ];
  const chains = [
    ...table("nat", [POSTROUTING_CHAIN, MASQ_CHAIN], nat),
    ...table("filter", [OUTPUT_CHAIN], filter),
    "",
  ].join("\n");

  return {
    chains,
    jumps: [
      {
        table: "nat",
        chain: "POSTROUTING",
        spec: [...comment("pod masquerade and hairpin"), "-j", POSTROUTING_CHAIN],
        position: "last",
      },
      {
        table: "filter",
        chain: "OUTPUT",
        spec: [...comment("pod metadata protection"), "-j", OUTPUT_CHAIN],
        position: "first",
      },
    ],
    owned: { nat: [POSTROUTING_CHAIN, MASQ_CHAIN], filter: [OUTPUT_CHAIN] },
  };
}
