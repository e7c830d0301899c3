// The schema of what test/e2e/netpol-guest.ts writes to result.json, apart from that program so the
// host-side test can import it without running the guest's main.
import { z } from "zod";
import type { NetpolE2eResult, NetpolJob } from "./netpol-guest.ts";

/** What the guest reads from job.json. */
export const NetpolJobSchema = z.strictObject({
  specFile: z.string(),
  prober: z.string(),
  cases: z.array(z.string()),
  probeTimeoutMs: z.number(),
}) satisfies z.ZodType<NetpolJob>;

const both = z.strictObject({ sameNode: z.boolean(), crossNode: z.boolean() });

/** What the host-side test reads back from result.json. */
export const NetpolE2eResultSchema = z.strictObject({
  kernel: z.string(),
  placement: z.record(z.string(), z.string()),
  facts: z
    .strictObject({
      nodeChainsBypassed: both,
      podInputStops: both,
      podOutputStops: both,
      service: z.record(z.string(), z.number()),
      serviceNodeRejectStops: both,
      nft: z.strictObject({ addTable: z.string(), iptablesNft: z.string() }),
    })
    .optional(),
  cases: z.array(
    z.strictObject({
      title: z.string(),
      group: z.string(),
      cells: z.number(),
      sameNode: z.number(),
      crossNode: z.number(),
      denied: z.number(),
      mismatches: z.array(
        z.strictObject({
          from: z.string(),
          to: z.string(),
          port: z.number(),
          protocol: z.enum(["TCP", "UDP", "SCTP"]),
          expected: z.boolean(),
          reason: z.string(),
        }),
      ),
      retried: z.number(),
      podsUpdated: z.number(),
      enforceMs: z.number(),
      probeMs: z.number(),
    }),
  ),
  skipped: z.array(z.strictObject({ title: z.string(), why: z.string() })),
  uncovered: z.strictObject({ sameNode: z.array(z.string()), crossNode: z.array(z.string()) }),
  control: z
    .array(
      z.strictObject({ title: z.string(), cells: z.number(), denied: z.number(), mismatches: z.number() }),
    )
    .optional(),
  window: z
    .strictObject({
      addToEnforcedMs: z.number(),
      reachableBefore: z.boolean(),
      reachableAfter: z.boolean(),
      syncMs: z.number(),
      failClosed: z.strictObject({
        addToIsolatedMs: z.number(),
        isolated: z.boolean(),
        reachedSameNode: z.boolean(),
        reachedCrossNode: z.boolean(),
      }),
    })
    .optional(),
  drift: z
    .strictObject({
      steadyRepairs: z.array(z.string()),
      reachableWhileFlushed: z.boolean(),
      repairedPods: z.array(z.string()),
      deniedAfterRepair: z.boolean(),
    })
    .optional(),
  setupMs: z.number(),
  casesMs: z.number(),
  syncRetries: z.number(),
  error: z.string().optional(),
}) satisfies z.ZodType<NetpolE2eResult>;
