// What the agent fault suite's three programs say to each other, as zod schemas: the host test
// (agents.test.ts) gives the guest (agents-guest.ts) a job and reads its result; the guest drives node
// agent processes (agent-worker.ts) with one JSON line per request and reads one per event. Also the
// verdict on a node's state after a kill (pure, so the host decides it and the controls exercise it).
import { z } from "zod";

/** The agent process's program, relative to the repository (the host bundles it for the guest). */
export const WORKER_SOURCE = "test/faults/agent-worker.ts";

/** Who the worker is and where its node's files are: its one argument, as JSON. */
export const WorkerArgsSchema = z.strictObject({
  node: z.string(),
  paths: z.strictObject({ cniConfDir: z.string(), cniBinDir: z.string(), ipamDataDir: z.string() }),
});
export type WorkerArgs = z.infer<typeof WorkerArgsSchema>;

export const FaultsJobSchema = z.strictObject({
  specFile: z.string(),
  /** Agents reconciling the node at once, and how many rounds of that from a cleaned node. */
  agents: z.number().int().positive(),
  rounds: z.number().int().positive(),
  /** Rounds of the same without the node lock (the negative control). */
  unlockedRounds: z.number().int().positive(),
});
export type FaultsJob = z.infer<typeof FaultsJobSchema>;

/**
 * One reconcile. `agent` is the product's path (`agent --once`: spec, context, reconcileNode under the
 * node lock); `unlocked` skips the node lock, `conflist-first` writes the conflist before anything
 * else and `nat-first` applies a restore payload's nat table before its filter table (the order the
 * agent used before the guard came first), stopping at `tables: nat applied, filter not yet`: all three
 * exist only as negative controls. With `stopAt` the worker announces that point and, at a
 * `before`/`after` point, waits there to be killed.
 */
export const WorkerRequestSchema = z.strictObject({
  config: z.string(),
  mode: z.enum(["agent", "unlocked", "conflist-first", "nat-first"]),
  stopAt: z.string().optional(),
});
export type WorkerRequest = z.infer<typeof WorkerRequestSchema>;

export const WorkerEventSchema = z.discriminatedUnion("event", [
  z.strictObject({ event: z.literal("ready") }),
  z.strictObject({ event: z.literal("at"), point: z.string() }),
  z.strictObject({
    event: z.literal("done"),
    ok: z.boolean(),
    /** The failure or the report's problems; empty when ok. */
    error: z.string(),
    /** Every point the reconcile passed, in order: the kill sweep's list. */
    points: z.array(z.string()),
  }),
]);
export type WorkerEvent = z.infer<typeof WorkerEventSchema>;

/**
 * The components a reconcile applies, in its order (reconcile.ts). The rules are one
 * `iptables-restore`, but iptables promises each table whole, not the payload: a kill between two
 * COMMITs leaves the first table applied. So each table is a component, in the order the iptables layer
 * applies them (src/iptables/sync.ts: the guard in filter before the masquerade in nat).
 */
export const COMPONENTS = ["hostDevice", "sysctls", "filterRules", "natRules", "conflist"] as const;
export const PAYLOAD_POINT = "tables: nat applied, filter not yet";

/**
 * Each component of one node: as before (a node the agent never touched), as desired (what an
 * undisturbed reconcile leaves; for the rules: our chains and exactly one jump into each, per table),
 * or neither. `jumps` counts the jumps into our chains.
 */
const ComponentStateSchema = z.enum(["before", "desired", "neither"]);
const NodeStateSchema = z.strictObject({
  hostDevice: ComponentStateSchema,
  sysctls: ComponentStateSchema,
  filterRules: ComponentStateSchema,
  natRules: ComponentStateSchema,
  conflist: ComponentStateSchema,
  jumps: z.number().int(),
  /** What made a component "neither", for the failure message. */
  detail: z.string(),
});
export type NodeState = z.infer<typeof NodeStateSchema>;

const RoundSchema = z.strictObject({
  /** The errors of the agents that failed; empty when all succeeded. */
  failures: z.array(z.string()),
  state: NodeStateSchema,
});
export type Round = z.infer<typeof RoundSchema>;

const KillSchema = z.strictObject({
  point: z.string(),
  /** false: the reconcile finished without passing the point (the sweep's list came from another run). */
  reached: z.boolean(),
  state: NodeStateSchema,
  /** After one more undisturbed reconcile. */
  repaired: NodeStateSchema,
});

const FullOrReadOnlySchema = z.strictObject({
  ok: z.boolean(),
  error: z.string(),
  conflistKept: z.boolean(),
});

export const FaultsResultSchema = z.strictObject({
  error: z.string().optional(),
  rounds: z.array(RoundSchema),
  unlockedRounds: z.array(RoundSchema),
  kills: z.array(KillSchema),
  /** Negative controls of the kill verdict: states the verdict must call "between". */
  killControls: z.array(z.strictObject({ what: z.string(), state: NodeStateSchema })),
  readOnly: FullOrReadOnlySchema.optional(),
  full: FullOrReadOnlySchema.optional(),
  /** Controls of the conf dir faults: the changed spec does change the conflist on a writable dir, and
   *  a plain (non-atomic) write into the full dir loses the old conflist. */
  changedWhenWritable: z.boolean().optional(),
  plainWriteKeptConflist: z.boolean().optional(),
  workerStartMs: z.array(z.number()),
  phaseMs: z.record(z.string(), z.number()),
});
export type FaultsResult = z.infer<typeof FaultsResultSchema>;

/**
 * "as before": nothing applied; "as desired": everything; "after <component>": the components up to it
 * applied and none after it; "in hostDevice": the first step caught half done, which the kernel allows
 * (the host device is a link and its routes, separate netlink requests of one `ip -batch`) and nothing
 * after it applied; "between": anything else. The conflist is last and tells the runtime the network is
 * ready, so every verdict but "between" is a node that is either not ready (and to the kubelet as
 * before) or ready and complete.
 */
export function killVerdict(state: NodeState): string {
  const values = COMPONENTS.map((component) => state[component]);
  const done = values.findIndex((value) => value !== "desired");
  if (done === -1) return "as desired";
  const halfDone = done === 0 && values[0] === "neither";
  if (values.slice(halfDone ? 1 : done).some((value) => value !== "before")) return "between";
  if (halfDone) return "in hostDevice";
  return done === 0 ? "as before" : `after ${COMPONENTS[done - 1]}`;
}
