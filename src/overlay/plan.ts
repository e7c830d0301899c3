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
  const found = new Map<OverlayRepairKind, string[]>();
  const note = (kind: OverlayRepairKind, item: string) => {
    const items = found.get(kind);
    if (items) items.push(item);
    else found.set(kind, [item]);
  };

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
  const routes = fresh ? new Map<string, string | undefined>() : presentRoutes(overlay, kernel);
  const neighbours = new Map(
    fresh
      ? []
      : kernel.neighbours
          .filter((entry) => entry.state?.includes("PERMANENT"))
          .map((entry) => [entry.dst, entry.lladdr]),
  );
  const fdb = new Map(
    fresh ? [] : kernel.fdb.filter((entry) => entry.dst).map((entry) => [entry.mac, entry.dst]),
  );

  const wantedRoutes = new Set<string>();
  const wantedNeighbours = new Set<string>();
  const wantedFdb = new Set<string>();
  for (const peer of overlay.peers) {
    wantedNeighbours.add(peer.ip);
    wantedFdb.add(peer.mac);
    if (fdb.get(peer.mac) !== peer.ip) {
      note("overlay-fdb-missing", `${peer.mac} → ${peer.ip}`);
      bridge.push(`fdb replace ${peer.mac} dev ${device.name} dst ${peer.ip} self permanent`);
    }
    if (neighbours.get(peer.ip) !== peer.mac) {
      note("overlay-neighbour-missing", peer.ip);
      ip.push(`neigh replace ${peer.ip} lladdr ${peer.mac} dev ${device.name} nud permanent`);
    }
    for (const block of peer.blocks) {
      wantedRoutes.add(block);
      if (routes.get(block) === peer.ip) continue;
      note("overlay-route-missing", `${block} via ${peer.ip}`);
      ip.push(`route replace ${block} via ${peer.ip} dev ${device.name} onlink`);
    }
  }
  // The peers' node IPs in the overlay's table (resolved through the same neighbour entries), and the
  // rules that send pod traffic there.
  const table = fresh
    ? new Set<string>()
    : new Set(
        kernel.tableRoutes
          .filter((route) => route.dev === device.name && route.gateway === undefined)
          .map(routeDestination),
      );
  const wantedTable = new Set(overlay.peers.map((peer) => `${peer.ip}/32`));
  for (const dst of wantedTable) {
    if (table.has(dst)) continue;
    note("overlay-peer-route-missing", dst);
    ip.push(`route replace ${dst} dev ${device.name} table ${OVERLAY_TABLE}`);
  }
  for (const dst of table) {
    if (wantedTable.has(dst)) continue;
    note("overlay-peer-route-stale", dst);
    ip.push(`route del ${dst} dev ${device.name} table ${OVERLAY_TABLE}`);
  }
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
  for (const dst of routes.keys()) {
    if (wantedRoutes.has(dst)) continue;
    note("overlay-route-stale", dst);
    ip.push(`route del ${dst} dev ${device.name}`);
  }
  for (const address of neighbours.keys()) {
    if (wantedNeighbours.has(address)) continue;
    note("overlay-neighbour-stale", address);
    ip.push(`neigh del ${address} dev ${device.name}`);
  }
  for (const [mac, dst] of fdb) {
    if (wantedFdb.has(mac)) continue;
    note("overlay-fdb-stale", `${mac} → ${dst}`);
    bridge.push(`fdb del ${mac} dev ${device.name} dst ${dst} self`);
  }

  const repairs = [...found].map(([kind, items]) => ({
    kind,
    count: items.length,
    detail:
      items.slice(0, SHOWN).join(", ") + (items.length > SHOWN ? ` and ${items.length - SHOWN} more` : ""),
  }));
  return { ip, bridge, repairs };
}

/** The device's routes, destination → next hop. */
function presentRoutes(overlay: Overlay, kernel: KernelOverlay): Map<string, string | undefined> {
  return new Map(
    kernel.routes
      .filter((route) => route.dev === overlay.device.name)
      .map((route) => [routeDestination(route), route.gateway]),
  );
}
