// The job and result files of the NetworkPolicy datapath bench (bench/netpol-datapath.ts on the host,
// guest/netpol-datapath.ts in the guest), apart from the guest program so the host can import them.
import { z } from "zod";

export const NetpolBenchJobSchema = z.strictObject({
  specFile: z.string(),
  iperfSeconds: z.number().int().positive(),
  /** Each round measures both paths with no policy and with the allowing policy, in turn. */
  iperfRounds: z.number().int().positive(),
  /** CNI ADDs each way (enforcer idle, enforcer syncing). */
  cniPods: z.number().int().positive(),
});
export type NetpolBenchJob = z.infer<typeof NetpolBenchJobSchema>;

const paths = z.strictObject({ sameNode: z.array(z.number()), crossNode: z.array(z.number()) });

export const NetpolBenchResultSchema = z.strictObject({
  /** Gbit/s received, one sample per round. */
  iperf: z.strictObject({ none: paths, allowed: paths }),
  cniAddMs: z.strictObject({ idle: z.array(z.number()), enforcing: z.array(z.number()) }),
  error: z.string().optional(),
});
export type NetpolBenchResult = z.infer<typeof NetpolBenchResultSchema>;
