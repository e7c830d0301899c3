// The difference between the overlay a node should have (desired.ts) and what its kernel holds
// (state.ts), as two batches: `ip -batch` lines (device, neighbours, routes) and `bridge -batch` lines
// (forwarding entries), so a change set of any size costs two processes. Pure; entries of nodes that
// left are removed, entries that are right are not touched.
import { OVERLAY_TABLE, type Overlay } from "./desired.ts";
import { routeDestination, type Link } from "../sys/ip-json.ts";
import type { KernelOverlay } from "./state.ts";

type OverlayRepairKind =
  | "overlay-device-missing"
  | "overlay-device-changed"
  | "overlay-device-settings"
  | "overlay-route-missing"
  | "overlay-route-stale"
  | "overlay-neighbour-missing"
  | "overlay-neighbour-stale"
  | "overlay-fdb-missing"
  | "overlay-fdb-stale"
  | "overlay-peer-route-missing"
  | "overlay-peer-route-stale"
  | "overlay-rule-missing"
  | "overlay-rule-stale";

/** One kind of drift with how many entries it touched (5,000 peers must not make 15,000 log lines). */
export interface OverlayRepair {
  kind: OverlayRepairKind;
  count: number;
  /** The first few entries, for the log. */
  detail: string;
}

export interface OverlayPlan {
  /** Lines for `ip -batch -` (run first: it may create the device the forwarding entries need). */
  ip: string[];
  /** Lines for `bridge -batch -`. */
  bridge: string[];
  repairs: OverlayRepair[];
}

const SHOWN = 3;

/** Why a present device cannot be kept (VXLAN settings cannot change in place), or undefined. */
function deviceMismatch(overlay: Overlay, link: Link): string | undefined {
  const { device } = overlay;
  const data = link.linkinfo?.info_data;
  if (link.linkinfo?.info_kind !== "vxlan") return `${device.name} is not a VXLAN device`;
  const wrong = [
    data?.id !== device.vni && `id ${data?.id ?? "?"} (want ${device.vni})`,
    data?.port !== device.port && `dstport ${data?.port ?? "?"} (want ${device.port})`,
    data?.local !== device.local && `local ${data?.local ?? "?"} (want ${device.local})`,
    data?.link !== device.master && `dev ${data?.link ?? "?"} (want ${device.master})`,
    data?.learning !== false && "learning on",
  ].filter((text): text is string => typeof text === "string");
  return wrong.length > 0 ? `${device.name}: ${wrong.join(", ")}` : undefined;
}

export function planOverlay(overlay: Overlay, kernel: KernelOverlay): OverlayPlan {
  const { device } = overlay;
  if (!kernel.links.some((link) => link.ifname === device.master)) {
    throw new Error(
      `the master interface ${device.master} does not exist on this node (spec.masterInterface)`,
    );
  }
  const ip: string[] = [];
  const bridge: string[] = [];
  const { note, repairs } = findings();

  const link = kernel.links.find((candidate) => candidate.ifname === device.name);
  const mismatch = link && deviceMismatch(overlay, link);
  const fresh = !link || mismatch !== undefined;
  if (!link) note("overlay-device-missing", device.name);
  if (mismatch) {
    note("overlay-device-changed", mismatch);
    ip.push(`link del ${device.name}`);
  }
  if (fresh) {
    ip.push(
      `link add ${device.name} type vxlan id ${device.vni} dstport ${device.port} local ${device.local} dev ${device.master} nolearning`,
    );
  }
  const settings = [
    (fresh || link.mtu !== device.mtu) && `mtu ${device.mtu}`,
    (fresh || link.address !== device.mac) && `address ${device.mac}`,
    (fresh || !link.flags?.includes("UP")) && "up",
  ].filter((text): text is string => typeof text === "string");
  if (settings.length > 0) {
    if (!fresh) note("overlay-device-settings", settings.join(" "));
    ip.push(`link set ${device.name} ${settings.join(" ")}`);
  }

  // A fresh device holds nothing; otherwise compare entry by entry.
  const entries = planEntries(overlay, fresh ? NO_ENTRIES : kernelEntries(overlay, kernel), note);
  ip.push(...entries.adds);
  bridge.push(...entries.bridge);
  // The rules that send pod traffic into the overlay's table.
  const rules = kernel.rules
    .filter((rule) => rule.priority === OVERLAY_TABLE)
    .map((rule) => ({ from: `${rule.src ?? "all"}/${rule.srclen ?? 0}`, table: String(rule.table) }));
  for (const pool of overlay.pools) {
    if (rules.some((rule) => rule.from === pool && rule.table === String(OVERLAY_TABLE))) continue;
    note("overlay-rule-missing", `from ${pool}`);
    ip.push(`rule add from ${pool} lookup ${OVERLAY_TABLE} pref ${OVERLAY_TABLE}`);
  }
  for (const rule of rules) {
    if (overlay.pools.includes(rule.from) && rule.table === String(OVERLAY_TABLE)) continue;
    note("overlay-rule-stale", `from ${rule.from} lookup ${rule.table}`);
    ip.push(`rule del pref ${OVERLAY_TABLE} from ${rule.from} lookup ${rule.table}`);
  }
  ip.push(...entries.deletes);
  return { ip, bridge: [...bridge, ...entries.bridgeDeletes], repairs: repairs() };
}

/**
 * The entries only, from the peers an earlier overlay programmed to those of `after` (a Node event: a
 * join, a leave, blocks or an address changed): no read-back, so a change among 5,000 peers costs two
 * small batches. Device, rules and mark are not touched (the full reconcile owns them, and the resync
 * still compares everything with the kernel). `before` must be what the kernel was last made to hold
 * on the same device; the deletes then name entries that exist, unless something removed them since.
 */
export function planPeerChanges(before: Overlay, after: Overlay): OverlayPlan {
  if (before.device.name !== after.device.name) {
    throw new Error(`the overlay's device changed (${before.device.name} → ${after.device.name})`);
  }
  const { note, repairs } = findings();
  const entries = planEntries(after, entriesOf(before), note);
  return {
    ip: [...entries.adds, ...entries.deletes],
    bridge: [...entries.bridge, ...entries.bridgeDeletes],
    repairs: repairs(),
  };
}

/** A device's entries, keyed as they are compared: block → next hop, IP → MAC, MAC → IP, peer IP/32. */
interface OverlayEntries {
  routes: ReadonlyMap<string, string | undefined>;
  neighbours: ReadonlyMap<string, string | undefined>;
  fdb: ReadonlyMap<string, string | undefined>;
  table: ReadonlySet<string>;
}

const NO_ENTRIES: OverlayEntries = {
  routes: new Map(),
  neighbours: new Map(),
  fdb: new Map(),
  table: new Set(),
};

/** What the kernel holds on the device (permanent neighbours, forwarding entries with a destination). */
function kernelEntries(overlay: Overlay, kernel: KernelOverlay): OverlayEntries {
  const device = overlay.device.name;
  return {
    routes: new Map(
      kernel.routes
        .filter((route) => route.dev === device)
        .map((route) => [routeDestination(route), route.gateway]),
    ),
    neighbours: new Map(
      kernel.neighbours
        .filter((entry) => entry.state?.includes("PERMANENT"))
        .map((entry) => [entry.dst, entry.lladdr]),
    ),
    fdb: new Map(kernel.fdb.filter((entry) => entry.dst).map((entry) => [entry.mac, entry.dst])),
    table: new Set(
      kernel.tableRoutes
        .filter((route) => route.dev === device && route.gateway === undefined)
        .map(routeDestination),
    ),
  };
}

/** What an overlay, once applied, left on its device. */
function entriesOf(overlay: Overlay): OverlayEntries {
  const routes = new Map<string, string>();
  for (const peer of overlay.peers) for (const block of peer.blocks) routes.set(block, peer.ip);
  return {
    routes,
    neighbours: new Map(overlay.peers.map((peer) => [peer.ip, peer.mac])),
    fdb: new Map(overlay.peers.map((peer) => [peer.mac, peer.ip])),
    table: new Set(overlay.peers.map((peer) => `${peer.ip}/32`)),
  };
}

/**
 * Lines that make `have` into the overlay's entries: adds and replacements first (a moved block is
 * replaced, never deleted and re-added), then the deletes: routes before the neighbours they resolve
 * through, forwarding entries in the bridge batch, which runs after the ip batch.
 */
function planEntries(
  overlay: Overlay,
  have: OverlayEntries,
  note: (kind: OverlayRepairKind, item: string) => void,
): { adds: string[]; deletes: string[]; bridge: string[]; bridgeDeletes: string[] } {
  const { name } = overlay.device;
  const adds: string[] = [];
  const deletes: string[] = [];
  const bridge: string[] = [];
  const bridgeDeletes: string[] = [];
  const wantedRoutes = new Set<string>();
  const wantedNeighbours = new Set<string>();
  const wantedFdb = new Set<string>();
  for (const peer of overlay.peers) {
    wantedNeighbours.add(peer.ip);
    wantedFdb.add(peer.mac);
    if (have.fdb.get(peer.mac) !== peer.ip) {
      note("overlay-fdb-missing", `${peer.mac} → ${peer.ip}`);
      bridge.push(`fdb replace ${peer.mac} dev ${name} dst ${peer.ip} self permanent`);
    }
    if (have.neighbours.get(peer.ip) !== peer.mac) {
      note("overlay-neighbour-missing", peer.ip);
      adds.push(`neigh replace ${peer.ip} lladdr ${peer.mac} dev ${name} nud permanent`);
    }
    for (const block of peer.blocks) {
      wantedRoutes.add(block);
      if (have.routes.get(block) === peer.ip) continue;
      note("overlay-route-missing", `${block} via ${peer.ip}`);
      adds.push(`route replace ${block} via ${peer.ip} dev ${name} onlink`);
    }
  }
  // The peers' node IPs in the overlay's table (resolved through the same neighbour entries).
  const wantedTable = new Set(overlay.peers.map((peer) => `${peer.ip}/32`));
  for (const dst of wantedTable) {
    if (have.table.has(dst)) continue;
    note("overlay-peer-route-missing", dst);
    adds.push(`route replace ${dst} dev ${name} table ${OVERLAY_TABLE}`);
  }
  for (const dst of have.table) {
    if (wantedTable.has(dst)) continue;
    note("overlay-peer-route-stale", dst);
    deletes.push(`route del ${dst} dev ${name} table ${OVERLAY_TABLE}`);
  }
  for (const dst of have.routes.keys()) {
    if (wantedRoutes.has(dst)) continue;
    note("overlay-route-stale", dst);
    deletes.push(`route del ${dst} dev ${name}`);
  }
  for (const address of have.neighbours.keys()) {
    if (wantedNeighbours.has(address)) continue;
    note("overlay-neighbour-stale", address);
    deletes.push(`neigh del ${address} dev ${name}`);
  }
  for (const [mac, dst] of have.fdb) {
    if (wantedFdb.has(mac)) continue;
    note("overlay-fdb-stale", `${mac} → ${dst}`);
    bridgeDeletes.push(`fdb del ${mac} dev ${name} dst ${dst} self`);
  }
  return { adds, deletes, bridge, bridgeDeletes };
}

/** Entries noted per kind of drift, summed up as repairs (count and the first few). */
function findings(): {
  note: (kind: OverlayRepairKind, item: string) => void;
  repairs: () => OverlayRepair[];
} {
  const found = new Map<OverlayRepairKind, string[]>();
  return {
    note(kind, item) {
      const items = found.get(kind);
      if (items) items.push(item);
      else found.set(kind, [item]);
    },
    repairs: () =>
      [...found].map(([kind, items]) => ({
        kind,
        count: items.length,
        detail:
          items.slice(0, SHOWN).join(", ") +
          (items.length > SHOWN ? ` and ${items.length - SHOWN} more` : ""),
      })),
  };
}
