// What the kernel holds of the overlay, as `ip -json` and `bridge -json` print it: the fields this
// folder reads beyond links and routes (sys/ip-json.ts), validated at the boundary.
import { z } from "zod";
import type { Link, Route } from "../sys/ip-json.ts";

/** `ip -json -4 neigh show dev DEVICE`. */
export const NeighSchema = z.looseObject({
  dst: z.string(),
  lladdr: z.string().optional(),
  state: z.array(z.string()).optional(),
});

/** `bridge -json fdb show dev DEVICE`. */
export const FdbSchema = z.looseObject({
  mac: z.string(),
  dst: z.string().optional(),
  state: z.string().optional(),
});

/** `ip -json -4 rule show`: a rule `from 10.241.0.0/16` prints src "10.241.0.0" and srclen 16. */
export const RuleSchema = z.looseObject({
  priority: z.number().optional(),
  src: z.string().optional(),
  srclen: z.number().optional(),
  table: z.union([z.string(), z.number()]).optional(),
});

export interface KernelOverlay {
  links: Link[];
  /** Every IPv4 route of the main table (the plan keeps those on the device). */
  routes: Route[];
  /** The routes of OVERLAY_TABLE, and every IPv4 rule. */
  tableRoutes: Route[];
  rules: z.infer<typeof RuleSchema>[];
  /** The device's neighbour and forwarding entries (empty when it does not exist). */
  neighbours: z.infer<typeof NeighSchema>[];
  fdb: z.infer<typeof FdbSchema>[];
}
