// The Azure-endpoint guard (filter table): pods must not reach the wireserver's privileged ports
// (it serves the node's own configuration) and, unless the spec allows it, the instance metadata
// service (it hands out the node's managed-identity tokens).
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import { comment } from "./comment.ts";

export const OUTPUT_CHAIN = "AKS-IPVLAN-OUTPUT";
export const WIRESERVER = "168.63.129.16";
export const WIRESERVER_TCP_PORTS = [80, 32526];
export const IMDS = "169.254.169.254";

/** The rules of OUTPUT_CHAIN, as `-A` lines split into words. */
export function azureEndpointGuardRules(spec: ClusterSpec, node: NodePlan): string[][] {
  const blocks = node.blocks.map((block) => block.cidr);
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

  return filter;
}
