// The schemas of what test/package/image-guest.ts reads (job.json) and writes (result.json), apart from
// that program so the host-side test imports them without running the guest's main.
import { z } from "zod";
import { CheckResultSchema } from "../../src/testbed/job.ts";
import { RuntimeConfigSchema } from "../../scripts/image/dockerfile.ts";

export const ImageJobSchema = z.strictObject({
  specFile: z.string(),
  /** The image's root file system (unpacked layer) on the host, seen at the same path by the guest. */
  rootfs: z.string(),
  /** The OCI config's runtime defaults, as the image carries them. */
  config: RuntimeConfigSchema,
});
export type ImageJob = z.infer<typeof ImageJobSchema>;

const AgentRunSchema = z.strictObject({
  node: z.string(),
  /** The node's CNI conf dir before the agent started: the control (nothing there but what it writes). */
  confBefore: z.array(z.string()),
  confAfter: z.array(z.string()),
  /** What install-cni (from the image) said it copied to the node's CNI bin dir. */
  installCni: z.string(),
  startToReadyMs: z.number(),
  readyz: z.string(),
  /** /proc/PID/root and /proc/PID/exe of the running agent, as the guest sees them. */
  root: z.string(),
  exe: z.string(),
});

export const ImageResultSchema = z.strictObject({
  kernel: z.string(),
  agents: z.array(AgentRunSchema),
  suite: z.array(CheckResultSchema),
  error: z.string().optional(),
});
export type ImageResult = z.infer<typeof ImageResultSchema>;
