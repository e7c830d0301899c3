// The node's iptables rule set: the masquerade chain (masquerade.ts), the Azure-endpoint guard
// (azure-endpoints.ts) and, in vxlan mode, the tunnel mark (tunnel.ts) as one ChainSet, which the
// iptables layer replaces in one transaction per table.
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import type { ChainSet } from "../iptables/chain-set.ts";
import { comment } from "./comment.ts";
import { MASQ_CHAIN, POSTROUTING_CHAIN, masqueradeRules } from "./masquerade.ts";
import { OUTPUT_CHAIN, azureEndpointGuardRules } from "./azure-endpoints.ts";
import { TUNNEL_CHAIN, tunnelMarkRules } from "./tunnel.ts";

/** Our chains per table: constants, so cleanup finds them without a spec. */
export const OWNED_CHAINS = { nat: [POSTROUTING_CHAIN, MASQ_CHAIN], filter: [OUTPUT_CHAIN] };
/** The mangle chain of vxlan mode (kept apart: vnet mode's rule set is unchanged by the mode). */
export const OVERLAY_CHAINS = { mangle: [TUNNEL_CHAIN] };

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
  const overlay = spec.routing.mode === "vxlan";
  const chains = [
    ...table("filter", [OUTPUT_CHAIN], filter),
    ...table("nat", [POSTROUTING_CHAIN, MASQ_CHAIN], nat),
    ...(overlay ? table("mangle", [TUNNEL_CHAIN], tunnelMarkRules(spec, node)) : []),
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
      ...(overlay
        ? [
            {
              table: "mangle" as const,
              chain: "OUTPUT" as const,
              spec: [...comment("pod traffic to other nodes takes the overlay"), "-j", TUNNEL_CHAIN],
              position: "last" as const,
            },
          ]
        : []),
    ],
    owned: overlay ? { ...OWNED_CHAINS, ...OVERLAY_CHAINS } : OWNED_CHAINS,
  };
}
