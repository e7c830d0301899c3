import { describe, expect, it } from "vitest";
import { overlayPeers } from "./overlay-peers.ts";

describe("overlayPeers", () => {
  it("lists every node holding blocks with its IP, leaves out nodes without one, and copies the blocks", () => {
    const blocks = ["10.241.0.16/28", "10.241.0.32/28"];
    const peers = overlayPeers([
      { name: "a", ip: "10.224.0.4", blocks },
      { name: "b", ip: "10.224.0.5", blocks: [] },
      { name: "c", ip: "10.224.0.6", blocks: ["10.241.0.48/28"] },
    ]);
    expect(peers).toEqual([
      { name: "a", ip: "10.224.0.4", blocks: ["10.241.0.16/28", "10.241.0.32/28"] },
      { name: "c", ip: "10.224.0.6", blocks: ["10.241.0.48/28"] },
    ]);
    peers[0]!.blocks.push("10.241.0.64/28");
    expect(blocks).toHaveLength(2);
  });
});
