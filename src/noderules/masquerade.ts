// The masquerade chain (nat table): pod traffic leaving the node takes the node IP, except to the
// nonMasqueradeCIDRs; a pod reaching a service endpoint on its own node is SNATed to the node IP so
// the reply comes back through the host device. In vxlan mode the node subnet is not among the
// nonMasqueradeCIDRs (spec/schema.ts): only the node's own IP keeps the pod's address, as it does
// in vnet mode, since that traffic never leaves the node.
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import { HOST_DEVICE } from "../hostpath/desired.ts";
import { comment } from "./comment.ts";

export const POSTROUTING_CHAIN = "AKS-IPVLAN-POSTROUTING";
export const MASQ_CHAIN = "AKS-IPVLAN-MASQ";
const LINK_LOCAL = "169.254.0.0/16";

/** The rules of POSTROUTING_CHAIN and MASQ_CHAIN, as `-A` lines split into words. */
export function masqueradeRules(spec: ClusterSpec, node: NodePlan): string[][] {
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
  if (spec.routing.mode === "vxlan") keep.push(`${node.ip}/32`);
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

  return nat;
}
