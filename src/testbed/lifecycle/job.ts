// The lifecycle scenario's job and result, exchanged as JSON files between the host and the guest
// (src/testbed/run.ts); each side parses what the other wrote.
import { z } from "zod";

/** What tells guest/main.ts that a job is this scenario's. */
export const LIFECYCLE_KIND = "lifecycle";

export const LifecycleJobSchema = z.strictObject({
  kind: z.literal(LIFECYCLE_KIND),
  /** The cluster spec file; its nodes join in order, the last one after install. */
  specFile: z.string(),
  /** The Go-built etcd and kube-apiserver (scripts/build-kube.sh), a path the guest reads. */
  kubeBin: z.string(),
});
export type LifecycleJob = z.infer<typeof LifecycleJobSchema>;

const StepSchema = z.strictObject({ name: z.string(), ms: z.number(), detail: z.string() });

const ProbeSchema = z.strictObject({
  /** What the cluster had just gone through: "before any policy", "policy created", ... */
  phase: z.string(),
  from: z.string(),
  to: z.string(),
  /** Same node or across nodes. */
  where: z.enum(["same node", "across nodes"]),
  expected: z.enum(["allowed", "denied"]),
  got: z.enum(["allowed", "denied", "silent"]),
  tries: z.number(),
});
export type Probe = z.infer<typeof ProbeSchema>;

export const LifecycleResultSchema = z.strictObject({
  kernel: z.string(),
  steps: z.array(StepSchema),
  /** Each node's block, as the controller annotated it. */
  blocks: z.record(z.string(), z.array(z.string())),
  probes: z.array(ProbeSchema),
  /** Resident memory in MiB, by program (etcd, kube-apiserver, agent on NODE, controller on NODE). */
  memoryMiB: z.record(z.string(), z.number()),
  /** Per node: what the installed product changed (the negative control of `leftovers`). */
  installed: z.record(z.string(), z.array(z.string())),
  /** Per node: what differs after uninstall from before install (empty: back to what it was). */
  leftovers: z.record(z.string(), z.array(z.string())),
  /** Set when the scenario could not finish; what it did so far stays valid. */
  error: z.string().optional(),
});
export type LifecycleResult = z.infer<typeof LifecycleResultSchema>;
