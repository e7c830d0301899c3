import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.ts";
import { formatCidr, formatIp, parseIp } from "../net/cidr.ts";
import { desiredOverlay } from "./desired.ts";
import type { OverlayPeer } from "../ipam/overlay-peers.ts";
import { planOverlay, planPeerChanges } from "./plan.ts";
import type { KernelOverlay } from "./state.ts";
import type { Link } from "../sys/ip-json.ts";

const spec = parseSpec("nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nrouting: {mode: vxlan}\n");
const self = { name: "node1", ip: "10.224.0.4" };
const peers: OverlayPeer[] = [
  { name: "node2", ip: "10.224.0.5", blocks: ["10.241.0.16/28"] },
  { name: "node3", ip: "10.224.0.6", blocks: ["10.241.0.32/28", "10.241.0.48/28"] },
];
const eth0: Link = { ifname: "eth0", flags: ["UP"] };
const device: Link = {
  ifname: "vxlan-aks",
  flags: ["BROADCAST", "UP"],
  mtu: 1450,
  address: "02:a5:0a:e0:00:04",
  linkinfo: {
    info_kind: "vxlan",
    info_data: { id: 4096, local: "10.224.0.4", link: "eth0", port: 4789, learning: false },
  },
};

const BARE: KernelOverlay = { links: [], routes: [], neighbours: [], fdb: [], tableRoutes: [], rules: [] };

/** What the kernel prints once `peers` are programmed (ip prints no /32 prefix, and the node's own routes). */
function programmed(list: readonly OverlayPeer[]): KernelOverlay {
  return {
    links: [eth0, device],
    routes: [
      { dst: "default", gateway: "10.224.0.1", dev: "eth0" },
      { dst: "10.241.0.0/28", dev: "ipvl-host" },
      ...list.flatMap((peer) => peer.blocks.map((dst) => ({ dst, gateway: peer.ip, dev: "vxlan-aks" }))),
    ],
    neighbours: list.map((peer) => ({
      dst: peer.ip,
      lladdr: `02:a5:0a:e0:00:0${peer.ip.at(-1)}`,
      state: ["PERMANENT"],
    })),
    fdb: list.map((peer) => ({ mac: `02:a5:0a:e0:00:0${peer.ip.at(-1)}`, dst: peer.ip, state: "permanent" })),
    // As ip prints them: a /32 without its prefix, the rule's source split in address and length.
    tableRoutes: list.map((peer) => ({ dst: peer.ip, dev: "vxlan-aks" })),
    rules: [
      { priority: 0, src: "all", table: "local" },
      { priority: 4789, src: "10.241.0.0", srclen: 16, table: "4789" },
      { priority: 32766, src: "all", table: "main" },
    ],
  };
}

describe("planOverlay", () => {
  const overlay = desiredOverlay(spec, self, peers);

  it("creates the device and every entry on a bare node, in two batches", () => {
    const plan = planOverlay(overlay, { ...BARE, links: [eth0] });
    expect(plan.ip).toEqual([
      "link add vxlan-aks type vxlan id 4096 dstport 4789 local 10.224.0.4 dev eth0 nolearning",
      "link set vxlan-aks mtu 1450 address 02:a5:0a:e0:00:04 up",
      "neigh replace 10.224.0.5 lladdr 02:a5:0a:e0:00:05 dev vxlan-aks nud permanent",
      "route replace 10.241.0.16/28 via 10.224.0.5 dev vxlan-aks onlink",
      "neigh replace 10.224.0.6 lladdr 02:a5:0a:e0:00:06 dev vxlan-aks nud permanent",
      "route replace 10.241.0.32/28 via 10.224.0.6 dev vxlan-aks onlink",
      "route replace 10.241.0.48/28 via 10.224.0.6 dev vxlan-aks onlink",
      "route replace 10.224.0.5/32 dev vxlan-aks table 4789",
      "route replace 10.224.0.6/32 dev vxlan-aks table 4789",
      "rule add from 10.241.0.0/16 lookup 4789 pref 4789",
    ]);
    expect(plan.bridge).toEqual([
      "fdb replace 02:a5:0a:e0:00:05 dev vxlan-aks dst 10.224.0.5 self permanent",
      "fdb replace 02:a5:0a:e0:00:06 dev vxlan-aks dst 10.224.0.6 self permanent",
    ]);
    expect(plan.repairs.map((repair) => [repair.kind, repair.count])).toEqual([
      ["overlay-device-missing", 1],
      ["overlay-fdb-missing", 2],
      ["overlay-neighbour-missing", 2],
      ["overlay-route-missing", 3],
      ["overlay-peer-route-missing", 2],
      ["overlay-rule-missing", 1],
    ]);
  });

  it("changes nothing on a node that matches", () => {
    expect(planOverlay(overlay, programmed(peers))).toEqual({ ip: [], bridge: [], repairs: [] });
  });

  it("removes the entries of a node that left and adds those of one that joined", () => {
    const joined = { name: "node4", ip: "10.224.0.7", blocks: ["10.241.0.64/28"] };
    const plan = planOverlay(desiredOverlay(spec, self, [peers[1]!, joined]), programmed(peers));
    expect(plan.ip).toEqual([
      "neigh replace 10.224.0.7 lladdr 02:a5:0a:e0:00:07 dev vxlan-aks nud permanent",
      "route replace 10.241.0.64/28 via 10.224.0.7 dev vxlan-aks onlink",
      "route replace 10.224.0.7/32 dev vxlan-aks table 4789",
      "route del 10.224.0.5/32 dev vxlan-aks table 4789",
      "route del 10.241.0.16/28 dev vxlan-aks",
      "neigh del 10.224.0.5 dev vxlan-aks",
    ]);
    expect(plan.bridge).toEqual([
      "fdb replace 02:a5:0a:e0:00:07 dev vxlan-aks dst 10.224.0.7 self permanent",
      "fdb del 02:a5:0a:e0:00:05 dev vxlan-aks dst 10.224.0.5 self",
    ]);
  });

  it("repairs a removed entry, a moved block and a /32 route printed without its prefix", () => {
    const kernel = programmed(peers);
    kernel.fdb = kernel.fdb.filter((entry) => entry.dst !== "10.224.0.6");
    kernel.routes = kernel.routes.map((route) =>
      route.dst === "10.241.0.48/28" ? { ...route, gateway: "10.224.0.5" } : route,
    );
    kernel.routes.push({ dst: "10.241.9.9", gateway: "10.224.0.5", dev: "vxlan-aks" });
    const plan = planOverlay(overlay, kernel);
    expect(plan.ip).toEqual([
      "route replace 10.241.0.48/28 via 10.224.0.6 dev vxlan-aks onlink",
      "route del 10.241.9.9/32 dev vxlan-aks",
    ]);
    expect(plan.bridge).toEqual([
      "fdb replace 02:a5:0a:e0:00:06 dev vxlan-aks dst 10.224.0.6 self permanent",
    ]);
  });

  it("recreates a device whose VXLAN settings differ, and fixes its MTU in place", () => {
    const wrongVni = {
      ...device,
      linkinfo: { info_kind: "vxlan", info_data: { ...device.linkinfo!.info_data, id: 7 } },
    };
    const recreated = planOverlay(overlay, { ...programmed(peers), links: [eth0, wrongVni] });
    expect(recreated.ip.slice(0, 3)).toEqual([
      "link del vxlan-aks",
      "link add vxlan-aks type vxlan id 4096 dstport 4789 local 10.224.0.4 dev eth0 nolearning",
      "link set vxlan-aks mtu 1450 address 02:a5:0a:e0:00:04 up",
    ]);
    expect(recreated.repairs[0]).toEqual({
      kind: "overlay-device-changed",
      count: 1,
      detail: "vxlan-aks: id 7 (want 4096)",
    });
    expect(recreated.bridge).toHaveLength(2);
    const mtu = planOverlay(overlay, { ...programmed(peers), links: [eth0, { ...device, mtu: 1500 }] });
    expect(mtu.ip).toEqual(["link set vxlan-aks mtu 1450"]);
  });

  it("repairs a rule into the overlay's table that is missing or points elsewhere", () => {
    const kernel = programmed(peers);
    kernel.rules = [{ priority: 4789, src: "10.99.0.0", srclen: 16, table: "main" }];
    expect(planOverlay(overlay, kernel).ip).toEqual([
      "rule add from 10.241.0.0/16 lookup 4789 pref 4789",
      "rule del pref 4789 from 10.99.0.0/16 lookup main",
    ]);
  });

  it("refuses a node without the master interface", () => {
    expect(() => planOverlay(overlay, BARE)).toThrow(/master interface eth0 does not exist/);
  });

  it("plans 5,000 nodes in one pass", () => {
    const many = Array.from({ length: 5000 }, (_, index) => ({
      name: `n${index}`,
      ip: formatIp(parseIp("10.224.0.0") + index + 1),
      blocks: [formatCidr({ base: parseIp("10.241.0.0") + index * 16, prefix: 28 })],
    })).filter((peer) => peer.ip !== self.ip);
    const plan = planOverlay(desiredOverlay(spec, self, many), { ...BARE, links: [eth0] });
    expect(plan.ip).toHaveLength(2 + 3 * many.length + 1);
    expect(plan.bridge).toHaveLength(many.length);
    expect(plan.repairs.find((repair) => repair.kind === "overlay-route-missing")?.detail).toMatch(
      /and 4996 more$/,
    );
  });
});

describe("planPeerChanges", () => {
  const before = desiredOverlay(spec, self, peers);
  const node4 = { name: "node4", ip: "10.224.0.7", blocks: ["10.241.0.64/28"] };

  it("a join adds that node's route, neighbour, peer route and forwarding entry, and nothing else", () => {
    const plan = planPeerChanges(before, desiredOverlay(spec, self, [...peers, node4]));
    expect(plan.ip).toEqual([
      "neigh replace 10.224.0.7 lladdr 02:a5:0a:e0:00:07 dev vxlan-aks nud permanent",
      "route replace 10.241.0.64/28 via 10.224.0.7 dev vxlan-aks onlink",
      "route replace 10.224.0.7/32 dev vxlan-aks table 4789",
    ]);
    expect(plan.bridge).toEqual([
      "fdb replace 02:a5:0a:e0:00:07 dev vxlan-aks dst 10.224.0.7 self permanent",
    ]);
  });

  it("a leave removes the routes before the neighbour they resolve through, the forwarding entry last", () => {
    const plan = planPeerChanges(before, desiredOverlay(spec, self, [peers[0]!]));
    expect(plan.ip).toEqual([
      "route del 10.224.0.6/32 dev vxlan-aks table 4789",
      "route del 10.241.0.32/28 dev vxlan-aks",
      "route del 10.241.0.48/28 dev vxlan-aks",
      "neigh del 10.224.0.6 dev vxlan-aks",
    ]);
    expect(plan.bridge).toEqual(["fdb del 02:a5:0a:e0:00:06 dev vxlan-aks dst 10.224.0.6 self"]);
  });

  it("a block moved to another node is replaced in place, never deleted", () => {
    const moved = [
      { ...peers[0]!, blocks: ["10.241.0.16/28", "10.241.0.48/28"] },
      { ...peers[1]!, blocks: ["10.241.0.32/28"] },
    ];
    const plan = planPeerChanges(before, desiredOverlay(spec, self, moved));
    expect(plan.ip).toEqual(["route replace 10.241.0.48/28 via 10.224.0.5 dev vxlan-aks onlink"]);
    expect(plan.bridge).toEqual([]);
  });

  it("a node whose address changed gets new entries, and the old address's are removed", () => {
    const plan = planPeerChanges(
      before,
      desiredOverlay(spec, self, [{ ...peers[0]!, ip: "10.224.0.9" }, peers[1]!]),
    );
    expect(plan.ip).toEqual([
      "neigh replace 10.224.0.9 lladdr 02:a5:0a:e0:00:09 dev vxlan-aks nud permanent",
      "route replace 10.241.0.16/28 via 10.224.0.9 dev vxlan-aks onlink",
      "route replace 10.224.0.9/32 dev vxlan-aks table 4789",
      "route del 10.224.0.5/32 dev vxlan-aks table 4789",
      "neigh del 10.224.0.5 dev vxlan-aks",
    ]);
    expect(plan.bridge).toEqual([
      "fdb replace 02:a5:0a:e0:00:09 dev vxlan-aks dst 10.224.0.9 self permanent",
      "fdb del 02:a5:0a:e0:00:05 dev vxlan-aks dst 10.224.0.5 self",
    ]);
  });

  it("plans the same lines as the full diff against a kernel that holds the earlier overlay", () => {
    const after = desiredOverlay(spec, self, [peers[1]!, node4]);
    const full = planOverlay(after, programmed(peers));
    const partial = planPeerChanges(before, after);
    expect(partial.ip).toEqual(full.ip);
    expect(partial.bridge).toEqual(full.bridge);
    expect(partial.repairs).toEqual(full.repairs);
  });

  it("plans nothing when no peer changed, and refuses another device", () => {
    expect(planPeerChanges(before, desiredOverlay(spec, self, [...peers].reverse()))).toEqual({
      ip: [],
      bridge: [],
      repairs: [],
    });
    const renamed = { ...before, device: { ...before.device, name: "vxlan-other" } };
    expect(() => planPeerChanges(before, renamed)).toThrow(/device changed \(vxlan-aks → vxlan-other\)/);
  });

  it("one join among 5,000 nodes is four lines", () => {
    const many = Array.from({ length: 5000 }, (_, index) => ({
      name: `n${index}`,
      ip: formatIp(parseIp("10.224.0.0") + index + 1),
      blocks: [formatCidr({ base: parseIp("10.241.0.0") + index * 16, prefix: 28 })],
    }));
    const joined = { name: "n5000", ip: "10.224.19.137", blocks: ["10.241.78.128/28"] };
    const plan = planPeerChanges(
      desiredOverlay(spec, self, many),
      desiredOverlay(spec, self, [...many, joined]),
    );
    expect([...plan.ip, ...plan.bridge]).toHaveLength(4);
    expect(plan.ip[1]).toBe("route replace 10.241.78.128/28 via 10.224.19.137 dev vxlan-aks onlink");
  });
});
