// What the kernel holds of the overlay, as `ip -json` and `bridge -json` print it: the fields this
// folder reads, validated at the boundary, and the one normalisation they need (a /32 route is printed
// without its prefix length).
import { z } from "zod";

/** `ip -json -details link show`: the device, its VXLAN settings and whether the master exists. */
export const LinkSchema = z.looseObject({
  ifname: z.string(),
  flags: z.array(z.string()).optional(),
  mtu: z.number().optional(),
  address: z.string().optional(),
  linkinfo: z
    .looseObject({
      info_kind: z.string().optional(),
      info_data: z
        .looseObject({
          id: z.number().optional(),
          local: z.string().optional(),
          link: z.string().optional(),
          port: z.number().optional(),
          learning: z.boolean().optional(),
        })
        .optional(),
    })
    .optional(),
});

/** `ip -json -4 route show table main`. */
export const RouteSchema = z.looseObject({
  dst: z.string(),
  dev: z.string().optional(),
  gateway: z.string().optional(),
});

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

export type Link = z.infer<typeof LinkSchema>;
export type Route = z.infer<typeof RouteSchema>;

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

/**
 * "10.1.2.3" (how ip prints a /32) → "10.1.2.3/32"; other destinations as they are (ip prints them
 * canonical). Text only: it runs for every entry of every reconcile, 10,000 and more at 5,000 nodes.
 */
export function routeDestination(route: Route): string {
  return route.dst === "default" || route.dst.includes("/") ? route.dst : `${route.dst}/32`;
}
