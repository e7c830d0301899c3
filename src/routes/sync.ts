// Brings the route table's owned routes to the desired ones. Each route is its own ARM operation of
// several seconds, so a few run at once (5,000 one after another would take hours); more would only
// meet ARM's throttling.
import type { RouteEntry } from "../ipam/planner.ts";
import type { RouteTable } from "../azure/route-table.ts";
import { routeChanges, type RouteChanges } from "../azure/route-diff.ts";
import { eachLimited } from "./coalesce.ts";

export async function syncRoutes(
  table: RouteTable,
  clusterName: string,
  desired: readonly RouteEntry[],
  concurrency = 4,
): Promise<RouteChanges> {
  const changes = routeChanges(clusterName, desired, await table.list());
  const tasks = [
    ...changes.put.map((route) => () => table.put(route)),
    ...changes.remove.map((name) => () => table.remove(name)),
  ];
  await eachLimited(tasks, concurrency, (task) => task());
  return changes;
}
