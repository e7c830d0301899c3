// The overlay's node list (routing.mode vxlan): every node holding blocks, with the IP its tunnel ends
// at. It is what each agent programs for every node but its own (a route per block through the VXLAN
// device, a forwarding entry to the IP), and what `plan` and `render` show in place of Azure routes.
// Plain data, pure.

export interface OverlayPeer {
  name: string;
  ip: string;
  blocks: string[];
}

export function overlayPeers(
  nodes: ReadonlyArray<{ name: string; ip: string; blocks: readonly string[] }>,
): OverlayPeer[] {
  return nodes
    .filter((node) => node.blocks.length > 0)
    .map((node) => ({ name: node.name, ip: node.ip, blocks: [...node.blocks] }));
}
