// The job and result files of the datapath bench (bench/datapath.ts on the host, guest/datapath.ts in
// the guest), apart from the guest program so the host can import them without running it.
import { z } from "zod";

export const BenchJobSchema = z.strictObject({
  specFile: z.string(),
  pods: z.number().int().positive(),
  iperfSeconds: z.number().int().positive(),
  /** Each round measures every path once, in turn. */
  iperfRounds: z.number().int().positive(),
});
export type BenchJob = z.infer<typeof BenchJobSchema>;

const TimingsSchema = z.strictObject({ addMs: z.array(z.number()), delMs: z.array(z.number()) });
export type Timings = z.infer<typeof TimingsSchema>;

export const IPERF_PATHS = ["podSameNode", "podCrossNode", "nodeToNode"] as const;
export type IperfPath = (typeof IPERF_PATHS)[number];

export const BenchResultSchema = z.strictObject({
  cni: z.strictObject({ ipvlan: TimingsSchema, bridge: TimingsSchema }),
  /** Gbit/s received, one sample per round. */
  iperf: z.strictObject({
    podSameNode: z.array(z.number()),
    podCrossNode: z.array(z.number()),
    nodeToNode: z.array(z.number()),
  }),
  error: z.string().optional(),
});
export type BenchResult = z.infer<typeof BenchResultSchema>;

/** The part of `iperf3 -J` the bench reads. */
export const IperfReport = z.object({
  end: z.object({ sum_received: z.object({ bits_per_second: z.number() }) }),
});
