// Brings the route table's owned routes to the desired ones (as many as the table holds). Each route
// is its own ARM operation of several seconds, so a few run at once (5,000 one after another would take
// hours); more would only meet ARM's throttling. Removals go first: in a full table they make the room
// the new routes take.
import type { RouteEntry } from "./routes.ts";
import { routeChanges, type RouteChanges, type TableRoute } from "./diff.ts";
import { mapBounded } from "../sys/bounded.ts";

/** A route table: Azure's (azure/route-table.ts), or a test double. */
export interface RouteTable {
  list(): Promise<TableRoute[]>;
  put(route: RouteEntry): Promise<void>;
  remove(name: string): Promise<void>;
}

export async function syncRoutes(
  table: RouteTable,
  clusterName: string,
  desired: readonly RouteEntry[],
  limit = Number.POSITIVE_INFINITY,
  concurrency = 4,
): Promise<RouteChanges> {
  const changes = routeChanges(clusterName, desired, await table.list(), limit);
  await mapBounded(changes.remove, concurrency, (name) => table.remove(name));
  await mapBounded(changes.put, concurrency, (route) => table.put(route));
  return changes;
}
