// The node annotation that carries a node's blocks: written by the controller, read by the agent.
import { parseCidr, formatCidr } from "../net/cidr.ts";

export const BLOCKS_ANNOTATION = "aks-ipvlan.io/blocks";

export function parseBlocksAnnotation(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(",")
    .map((text) => text.trim())
    .filter(Boolean)
    .map((text) => formatCidr(parseCidr(text)));
}

export function formatBlocksAnnotation(blocks: readonly string[]): string {
  return blocks.join(",");
}
