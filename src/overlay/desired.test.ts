import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.ts";
import { OVERLAY_DEVICE, desiredOverlay, macFor } from "./desired.ts";

const spec = parseSpec(
  "nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nrouting: {mode: vxlan, vxlan: {vni: 42, port: 8472}}\n",
);

describe("desiredOverlay", () => {
  it("makes one device at the node's IP and an entry per other node with an IPv4 address and a block", () => {
    const overlay = desiredOverlay(spec, { name: "b", ip: "10.224.0.5" }, [
      { name: "c", ip: "10.224.0.6", blocks: ["10.241.0.32/28", "10.241.0.16/28"] },
      { name: "b", ip: "10.224.0.5", blocks: ["10.241.0.0/28"] },
      { name: "a", ip: "10.224.0.4", blocks: ["10.241.0.48/28"] },
      { name: "new", ip: "10.224.0.7", blocks: [] },
      { name: "v6", ip: "fd00::7", blocks: ["10.241.0.64/28"] },
    ]);
    expect(overlay.device).toEqual({
      name: OVERLAY_DEVICE,
      vni: 42,
      port: 8472,
      local: "10.224.0.5",
      master: "eth0",
      mtu: 1450,
      mac: "02:a5:0a:e0:00:05",
    });
    expect(overlay.peers).toEqual([
      { name: "a", ip: "10.224.0.4", mac: "02:a5:0a:e0:00:04", blocks: ["10.241.0.48/28"] },
      { name: "c", ip: "10.224.0.6", mac: "02:a5:0a:e0:00:06", blocks: ["10.241.0.16/28", "10.241.0.32/28"] },
    ]);
    expect(overlay.pools).toEqual(["10.241.0.0/16"]);
  });

  it("takes the spec's pod MTU when it is set", () => {
    const pinned = parseSpec(
      "nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nmtu: 1400\nrouting: {mode: vxlan}\n",
    );
    expect(desiredOverlay(pinned, { name: "a", ip: "10.224.0.4" }, []).device.mtu).toBe(1400);
  });

  it("derives one locally administered MAC per address", () => {
    expect(macFor("255.1.16.0")).toBe("02:a5:ff:01:10:00");
    expect(() => macFor("10.0.0")).toThrow(/not an IPv4 address/);
  });
});
