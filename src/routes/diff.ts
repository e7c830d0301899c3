// Which route-table changes turn the table Azure has into the one the cluster needs. Pure.
// Only routes this cluster owns are ever changed: their name is ROUTE_NAME_PREFIX + cluster name +
// a block written with dashes, so a route of another cluster (or added by hand) is never touched,
// even when one cluster's name is a prefix of another's ("aks" and "aks-2").
// A table holds at most `limit` routes, everyone's counted. When more blocks need one, the routes the
// table has keep their place and only the new ones that fit are added: a full table never trades one
// node's route for another's (which would flap at every sync), and never gets a route Azure refuses.
import { ROUTE_NAME_PREFIX, type RouteEntry } from "./routes.ts";

/** A route as the route table holds it (any route, ours or not). */
export interface TableRoute {
  name: string;
  addressPrefix?: string;
  nextHopType?: string;
  nextHopIpAddress?: string;
}

export interface RouteChanges {
  /** Routes to create or to overwrite (PUT is both in ARM). */
  put: RouteEntry[];
  /** Names of owned routes no block needs any more. */
  remove: string[];
  /** Desired routes left out: the table has no room for them (routing.routeTableLimit). */
  unrouted: RouteEntry[];
}

const BLOCK_IN_NAME = /^\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,2}$/;

export function ownsRoute(clusterName: string, routeName: string): boolean {
  const prefix = `${ROUTE_NAME_PREFIX}${clusterName}-`;
  return routeName.startsWith(prefix) && BLOCK_IN_NAME.test(routeName.slice(prefix.length));
}

export function routeChanges(
  clusterName: string,
  desired: readonly RouteEntry[],
  actual: readonly TableRoute[],
  limit = Number.POSITIVE_INFINITY,
): RouteChanges {
  const actualByName = new Map(actual.map((route) => [route.name, route]));
  const present = desired.filter((route) => actualByName.has(route.name));
  const foreign = actual.filter((route) => !ownsRoute(clusterName, route.name)).length;
  const room = Math.max(0, limit - foreign - present.length);
  const absent = desired.filter((route) => !actualByName.has(route.name));
  const wanted = new Set([...present, ...absent.slice(0, room)].map((route) => route.name));
  return {
    put: desired.filter((route) => wanted.has(route.name) && !sameRoute(route, actualByName.get(route.name))),
    remove: actual
      .filter((route) => ownsRoute(clusterName, route.name) && !wanted.has(route.name))
      .map((route) => route.name)
      .sort(),
    unrouted: absent.slice(room),
  };
}

function sameRoute(want: RouteEntry, have: TableRoute | undefined): boolean {
  return (
    have !== undefined &&
    have.addressPrefix === want.addressPrefix &&
    have.nextHopType === want.nextHopType &&
    have.nextHopIpAddress === want.nextHopIpAddress
  );
}
