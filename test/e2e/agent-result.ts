// The schemas of what test/e2e/agent-guest.ts reads (job.json) and writes (result.json), apart from
// that program so the host-side test can import them without running the guest's main.
import { z } from "zod";
import { CheckResultSchema } from "../../src/testbed/job.ts";
import type { AgentE2eResult, AgentJob, Snapshot } from "./agent-guest.ts";

export const AgentJobSchema = z.strictObject({
  specFile: z.string(),
  resyncSeconds: z.number(),
  leakGraceSeconds: z.number(),
  restarts: z.number(),
}) satisfies z.ZodType<AgentJob>;

/** The spec file runInGuest writes (JSON); the guest edits its agent section. */
export const SpecInputSchema = z.looseObject({ agent: z.looseObject({}).optional() });

const SnapshotSchema = z.strictObject({
  iptables: z.string(),
  links: z.string(),
  routes: z.string(),
  confDir: z.array(z.string()),
}) satisfies z.ZodType<Snapshot>;

/** What the host-side test reads back from result.json. */
export const AgentE2eResultSchema = z.strictObject({
  kernel: z.string(),
  startToReadyMs: z.array(z.number()),
  rssKb: z.array(z.number()),
  status: z.record(z.string(), z.unknown()).optional(),
  suite: z.array(CheckResultSchema),
  repairs: z.array(
    z.strictObject({
      what: z.string(),
      ms: z.number(),
      reconciles: z.number(),
      counter: z.tuple([z.number(), z.number()]),
      restored: z.boolean(),
    }),
  ),
  leaks: z
    .strictObject({
      doomed: z.array(z.string()),
      live: z.array(z.string()),
      keptWithinGrace: z.array(z.string()),
      releasedAfterMs: z.number(),
      remaining: z.array(z.string()),
      releasedCounter: z.number(),
    })
    .optional(),
  sigterm: z.strictObject({ exitCode: z.number().nullable(), unchanged: z.boolean() }).optional(),
  restarts: z
    .strictObject({
      runs: z.number(),
      failures: z.number(),
      duplicateJumpsBefore: z.number(),
      afterMatchesInstall: z.boolean(),
      ruleCounts: z.record(z.string(), z.number()),
    })
    .optional(),
  cleanup: z
    .strictObject({
      output: z.string(),
      atAgentStart: SnapshotSchema,
      before: SnapshotSchema,
      installed: SnapshotSchema,
      after: SnapshotSchema,
    })
    .optional(),
  refusal: z.strictObject({ lastError: z.string(), ready: z.boolean() }).optional(),
  error: z.string().optional(),
}) satisfies z.ZodType<AgentE2eResult>;
