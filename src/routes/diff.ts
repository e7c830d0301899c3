// Which route-table changes turn the table Azure has into the one the cluster needs. Pure.
// Only routes this cluster owns are ever changed: their name is ROUTE_NAME_PREFIX + cluster name +
// a block written with dashes, so a route of another cluster (or added by hand) is never touched,
// even when one cluster's name is a prefix of another's ("aks" and "aks-2").
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
): RouteChanges {
  const actualByName = new Map(actual.map((route) => [route.name, route]));
  const wanted = new Set(desired.map((route) => route.name));
  return {
    put: desired.filter((route) => !sameRoute(route, actualByName.get(route.name))),
    remove: actual
      .filter((route) => ownsRoute(clusterName, route.name) && !wanted.has(route.name))
      .map((route) => route.name)
      .sort(),
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
