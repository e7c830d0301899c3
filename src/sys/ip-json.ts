// The node's network state as iproute2 prints it with -json, read the same way by every part that
// reconciles it (the host path, the overlay): the fields they use, validated at the boundary, the one
// normalisation they need, and the batch that applies their difference in one process.
import { z } from "zod";
import { CommandError, type Runner } from "./exec.ts";

/** `ip -json -details link show`. */
export const LinkSchema = z.looseObject({
  ifname: z.string(),
  flags: z.array(z.string()).optional(),
  mtu: z.number().optional(),
  address: z.string().optional(),
  /** The master's name, for a device stacked on another one in the same namespace. */
  link: z.string().optional(),
  linkinfo: z
    .looseObject({
      info_kind: z.string().optional(),
      info_data: z
        .looseObject({
          /** ipvlan */
          mode: z.string().optional(),
          /** vxlan */
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

/** `ip -json -4 route show`. */
export const RouteSchema = z.looseObject({
  dst: z.string(),
  dev: z.string().optional(),
  gateway: z.string().optional(),
  prefsrc: z.string().optional(),
});

export type Link = z.infer<typeof LinkSchema>;
export type Route = z.infer<typeof RouteSchema>;

/** A -json listing (empty output is an empty list). */
export function parseIpJson<T>(schema: z.ZodType<T>, text: string): T[] {
  return z.array(schema).parse(JSON.parse(text || "[]"));
}

/**
 * "10.1.2.3" (how ip prints a /32) → "10.1.2.3/32"; other destinations as they are (ip prints them
 * canonical). Text only: it runs for every entry of every reconcile, 10,000 and more at 5,000 nodes.
 */
export function routeDestination(route: Route): string {
  return route.dst === "default" || route.dst.includes("/") ? route.dst : `${route.dst}/32`;
}

/**
 * Runs `lines` as one `ip -batch -`. A batch that creates a device of a kind the kernel lacks fails
 * with "Unknown device type": that is said as the missing kernel module, with the fix.
 */
export async function ipBatch(runner: Runner, lines: readonly string[], module: string): Promise<void> {
  if (lines.length === 0) return;
  try {
    await runner("ip", ["-batch", "-"], { input: `${lines.join("\n")}\n` });
  } catch (error) {
    if (error instanceof CommandError && /Unknown device type/i.test(error.result.stderr)) {
      throw new Error(
        `the kernel has no ${module} support (kernel module \`${module}\`, CONFIG_${module.toUpperCase()}): load it with \`modprobe ${module}\`, or use a node image whose kernel has it`,
        { cause: error },
      );
    }
    throw error;
  }
}
