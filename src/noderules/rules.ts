// The node's iptables rule set: the masquerade chain (masquerade.ts) and the Azure-endpoint guard
// (azure-endpoints.ts) as one ChainSet, which the iptables layer replaces in one transaction.
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import type { ChainSet } from "../iptables/chain-set.ts";
import { comment } from "./comment.ts";
import { MASQ_CHAIN, POSTROUTING_CHAIN, masqueradeRules } from "./masquerade.ts";
import { OUTPUT_CHAIN, azureEndpointGuardRules } from "./azure-endpoints.ts";

/** Our chains per table: constants, so cleanup finds them without a spec. */
export const OWNED_CHAINS = { nat: [POSTROUTING_CHAIN, MASQ_CHAIN], filter: [OUTPUT_CHAIN] };

export function renderNodeRules(spec: ClusterSpec, node: NodePlan): ChainSet {
  const nat = masqueradeRules(spec, node);
  const filter = azureEndpointGuardRules(spec, node);
  const table = (name: string, chains: string[], rules: string[][]) => [
    `*${name}`,
    ...chains.map((chain) => `:${chain} - [0:0]`),
    ...rules.map((rule) => rule.join(" ")),
    "COMMIT",
  ];
  // The guard before the masquerade, the order the iptables layer applies them in (iptables/sync.ts).
  const chains = [
    ...table("filter", [OUTPUT_CHAIN], filter),
    ...table("nat", [POSTROUTING_CHAIN, MASQ_CHAIN], nat),
    "",
  ].join("\n");

  return {
    chains,
    jumps: [
      {
        table: "filter",
        chain: "OUTPUT",
        spec: [...comment("pod metadata protection"), "-j", OUTPUT_CHAIN],
        position: "first",
      },
      {
        table: "nat",
        chain: "POSTROUTING",
        spec: [...comment("pod masquerade and hairpin"), "-j", POSTROUTING_CHAIN],
        position: "last",
      },
    ],
    owned: OWNED_CHAINS,
  };
}
