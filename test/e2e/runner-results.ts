// What the guest programs of test/e2e/runners.test.ts (hello-guest.ts, native-guest.ts) write to
// result.json, apart from those programs so the test can import the schemas without running them.
import { z } from "zod";
import { SuiteResultSchema } from "../../src/testbed/job.ts";
import { RUNNER_NAMES } from "../../src/testbed/runners/runner.ts";

export const HelloResultSchema = z.strictObject({ kernel: z.string() });

export const NativeInGuestSchema = z.strictObject({
  /** Set when the native runner refused or failed; the fields below are then absent. */
  error: z.string().optional(),
  runner: z.enum(RUNNER_NAMES).optional(),
  kernel: z.string().optional(),
  bootMs: z.number().optional(),
  suite: SuiteResultSchema.optional(),
});
export type NativeInGuest = z.infer<typeof NativeInGuestSchema>;
