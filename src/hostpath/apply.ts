// Making the node's host device and block routes match desiredHostPath(): read them with
// `ip -json`, plan the difference (pure), fix it with one `ip -batch -`.
import type { Runner } from "../sys/exec.ts";
import {
  LinkSchema,
  RouteSchema,
  ipBatch,
  parseIpJson,
  routeDestination,
  type Link,
  type Route,
} from "../sys/ip-json.ts";
import type { HostPath } from "./desired.ts";

type HostRepairKind =
  | "host-device-missing"
  | "host-device-changed"
  | "host-device-down"
  | "host-route-missing"
  | "host-route-stale";

export interface HostRepair {
  kind: HostRepairKind;
  detail: string;
}

export interface HostPlan {
  /** Lines for `ip -batch -`; empty when the node already matches. */
  batch: string[];
  repairs: HostRepair[];
}

const MODE = "l3s";

export function planHostPath(desired: HostPath, links: Link[], routes: Route[]): HostPlan {
  const { device, master } = desired;
  if (!links.some((link) => link.ifname === master)) {
    throw new Error(`the master interface ${master} does not exist on this node (spec.masterInterface)`);
  }
  // Name a foreign device if there is one: once it switched the mode, ours shows that mode too.
  const otherMode = links
    .filter(
      (link) =>
        link.link === master &&
        link.linkinfo?.info_kind === "ipvlan" &&
        link.linkinfo.info_data?.mode !== MODE,
    )
    .sort((a, b) => Number(a.ifname === device) - Number(b.ifname === device))[0];
  if (otherMode) {
    throw new Error(
      `refusing to touch ${master}: ipvlan device ${otherMode.ifname} on it uses mode ${otherMode.linkinfo?.info_data?.mode ?? "?"}; ` +
        `all ipvlan devices on one master share one mode, so adding ${device} (mode ${MODE}) would switch it and every pod. ` +
        `Remove ${otherMode.ifname} or the other network plugin first`,
    );
  }

  const batch: string[] = [];
  const repairs: HostRepair[] = [];
  const create = `link add ${device} link ${master} type ipvlan mode ${MODE}`;
  const current = links.find((link) => link.ifname === device);
  let fresh = false;
  if (!current) {
    repairs.push({ kind: "host-device-missing", detail: device });
    batch.push(create);
    fresh = true;
  } else if (current.linkinfo?.info_kind !== "ipvlan" || current.link !== master) {
    repairs.push({ kind: "host-device-changed", detail: `${device} is not an ipvlan device on ${master}` });
    batch.push(`link del ${device}`, create);
    fresh = true;
  }
  if (fresh || !current?.flags?.includes("UP")) {
    if (!fresh) repairs.push({ kind: "host-device-down", detail: device });
    batch.push(`link set ${device} up`);
  }

  const present = fresh
    ? []
    : routes
        .filter((route) => route.dev === device)
        .map((route) => ({ ...route, dst: routeDestination(route) }));
  for (const route of desired.routes) {
    if (present.some((have) => have.dst === route.dst && have.prefsrc === route.src)) continue;
    repairs.push({ kind: "host-route-missing", detail: route.dst });
    batch.push(`route replace ${route.dst} dev ${route.dev} src ${route.src}`);
  }
  for (const have of present) {
    if (desired.routes.some((route) => route.dst === have.dst)) continue;
    repairs.push({ kind: "host-route-stale", detail: have.dst });
    batch.push(`route del ${have.dst} dev ${device}`);
  }
  return { batch, repairs };
}

async function readState(runner: Runner): Promise<{ links: Link[]; routes: Route[] }> {
  const [links, routes] = await Promise.all([
    runner("ip", ["-json", "-details", "link", "show"]),
    runner("ip", ["-json", "-4", "route", "show", "table", "main"]),
  ]);
  return {
    links: parseIpJson(LinkSchema, links.stdout),
    routes: parseIpJson(RouteSchema, routes.stdout),
  };
}

export async function applyHostPath(runner: Runner, desired: HostPath): Promise<HostRepair[]> {
  const { links, routes } = await readState(runner);
  const plan = planHostPath(desired, links, routes);
  // The batch starts with `link add`, so a kernel without ipvlan fails before anything changed.
  await ipBatch(runner, plan.batch, "ipvlan");
  return plan.repairs;
}

/** Deletes the host device (its routes go with it); returns whether it existed. */
export async function cleanupHostPath(runner: Runner, device: string): Promise<boolean> {
  const { links } = await readState(runner);
  if (!links.some((link) => link.ifname === device)) return false;
  await runner("ip", ["link", "del", device]);
  return true;
}
