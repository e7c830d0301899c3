// What the host asks the guest to do and what the guest answers, exchanged as JSON files in the run
// directory both sides see (the guest's root file system is the host's). Each side parses what the
// other wrote with these schemas: a file from an older checkout or a half-written one is an error
// naming the field, never a value of the wrong shape.
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { RouteEntry } from "../routes/routes.ts";
import { CHECK_IDS, type CheckResult } from "../verify/checks.ts";
import { MODEL_PODS } from "../verify/policy-cases.ts";
import type { PolicyCaseResult } from "../verify/policy-suite.ts";

const RouteEntrySchema = z.strictObject({
  name: z.string(),
  addressPrefix: z.string(),
  nextHopType: z.literal("VirtualAppliance"),
  nextHopIpAddress: z.string(),
}) satisfies z.ZodType<RouteEntry>;

const ProfileNameSchema = z.enum(["product", "seed"]);
const CheckIdSchema = z.enum(CHECK_IDS);

const RouteSwitchSchema = z.strictObject({
  routes: z.array(RouteEntrySchema),
  /** The node whose routes the second table lacks: paths to its pods must fail, the others pass. */
  removedNode: z.string(),
});
export type RouteSwitch = z.infer<typeof RouteSwitchSchema>;

const SuiteRunFields = {
  profiles: z.array(ProfileNameSchema),
  /** Also run the negative controls on the product's cluster. */
  controls: z.boolean(),
  /** Only these checks (default: all). */
  only: z.array(CheckIdSchema).optional(),
  /**
   * The product's VNet route table, e.g. what the controller wrote to Azure; default: the plan's
   * routes. Every next hop must be a node of the spec.
   */
  vnetRoutes: z.array(RouteEntrySchema).optional(),
  /** After the product's suite: switch the VNet to a second route table and check the cross-node paths. */
  vnetRoutesAfter: RouteSwitchSchema.optional(),
  /** After the product's suite: the NetworkPolicy cases of `verify --policies` (src/testbed/guest/policies.ts). */
  policies: z.boolean().optional(),
  /** After the product's suite, vxlan mode: the overlay's MTU probes and its negative control (guest/overlay-checks.ts). */
  overlay: z.boolean().optional(),
};

/** Another cluster built and checked in the same boot, after the first: its spec travels in the job. */
const MoreRunSchema = z.strictObject({
  /** Names the run in the results (and its directory in the guest). */
  name: z.string().regex(/^[a-z0-9-]+$/),
  /** The cluster spec, as its file would hold it (JSON is YAML). */
  spec: z.record(z.string(), z.unknown()),
  ...SuiteRunFields,
});

export const SuiteJobSchema = z.strictObject({
  /** The cluster spec file the guest and the node agent read. */
  specFile: z.string(),
  ...SuiteRunFields,
  /** More clusters for the same boot, one after another (a boot and a Node start saved each). */
  more: z.array(MoreRunSchema).optional(),
});
export type SuiteJob = z.infer<typeof SuiteJobSchema>;

const EvidenceSchema = z.strictObject({
  where: z.string(),
  argv: z.array(z.string()),
  code: z.number(),
  output: z.string(),
  durationMs: z.number(),
});

export const CheckResultSchema = z.strictObject({
  id: CheckIdSchema,
  title: z.string(),
  nodes: z.string(),
  status: z.enum(["pass", "fail", "not-applicable"]),
  reason: z.string(),
  evidence: z.array(EvidenceSchema),
  durationMs: z.number(),
}) satisfies z.ZodType<CheckResult>;

/** The cross-node check between two nodes after the switch. */
const PathRunSchema = z.strictObject({ from: z.string(), to: z.string(), result: CheckResultSchema });
export type PathRun = z.infer<typeof PathRunSchema>;

const ProfileRunSchema = z.strictObject({
  profile: ProfileNameSchema,
  nodes: z.number(),
  results: z.array(CheckResultSchema),
  setupMs: z.number(),
  suiteMs: z.number(),
});

const ControlRunSchema = z.strictObject({
  id: z.string(),
  description: z.string(),
  /** The checks this control must make fail. */
  mustFail: z.array(CheckIdSchema),
  results: z.array(CheckResultSchema),
});
export type ControlRun = z.infer<typeof ControlRunSchema>;

const ModelPodSchema = z.enum(MODEL_PODS);

const PolicyCaseResultSchema = z.strictObject({
  name: z.string(),
  group: z.enum(["default deny", "namespace selector", "named ports", "ipBlock"]),
  cells: z.number(),
  sameNode: z.number(),
  crossNode: z.number(),
  denied: z.number(),
  wrong: z.array(
    z.strictObject({ from: ModelPodSchema, to: ModelPodSchema, port: z.number(), expected: z.boolean() }),
  ),
  settledMs: z.number().optional(),
}) satisfies z.ZodType<PolicyCaseResult>;

const ProbeSchema = z.strictObject({
  payload: z.number(),
  code: z.number(),
  echoed: z.number(),
  output: z.string(),
});

const ProbeAnswerSchema = z.enum(["open", "refused", "silent"]);
/** A GET to a server pod of the second node from a pod of the first (allowed, other) and of its own node. */
const PolicyVerdictsSchema = z.strictObject({
  allowed: ProbeAnswerSchema,
  other: ProbeAnswerSchema,
  sameNode: ProbeAnswerSchema,
});

/** The verdicts, and the packets the REJECTs of the server's ingress matched: in its namespace, on its node. */
const JudgedSchema = z.strictObject({
  verdicts: PolicyVerdictsSchema,
  rejects: z.strictObject({ podNamespace: z.number(), node: z.number() }),
});

const OverlayPolicyRunSchema = z.strictObject({
  /** Without any policy (the negative control). */
  open: PolicyVerdictsSchema,
  /** With the server's ingress isolated except from the allowed pod. */
  enforced: JudgedSchema,
  /** The same after the server namespace's INPUT was flushed by hand (drift): what the node alone judges. */
  withoutPodRules: JudgedSchema,
});
export type OverlayPolicyRun = z.infer<typeof OverlayPolicyRunSchema>;

const MembershipStepSchema = z.strictObject({
  /** The repair kinds each of the first two nodes' agents reported. */
  repairs: z.array(z.array(z.string())),
  probe: ProbeSchema,
  /** Whether the first node routes the third node's pod through the tunnel device. */
  tunnelled: z.boolean(),
});

const OverlayRunSchema = z.strictObject({
  podMtu: z.number(),
  /** UDP with DF from a pod on the first node to one on the second: the full pod MTU, one byte over. */
  full: ProbeSchema,
  over: ProbeSchema,
  /** The second node's tunnel entries removed on the first: the paths then, the agent's repairs, the path after. */
  removed: z.array(CheckResultSchema),
  repairs: z.array(z.strictObject({ kind: z.string(), count: z.number().optional() })),
  repaired: CheckResultSchema,
  /** The agent run again at rest: what it repaired (nothing, if its rules read back as rendered). */
  atRest: z.array(z.string()),
  /** NodePort on the first node to a pod on the second without the second's rule into the overlay's table, the agent's repairs, and after. */
  rule: z.strictObject({ without: CheckResultSchema, repairs: z.array(z.string()), with: CheckResultSchema }),
  /** NetworkPolicy ingress isolation against pods of other nodes (guest/overlay-policy.ts). */
  policy: OverlayPolicyRunSchema,
  /** The third node leaving and joining again while pods of the first two exchange datagrams. */
  membership: z.strictObject({
    /** A pod on the first node to one on the third, before. */
    before: ProbeSchema,
    /** After the first two nodes' agents ran without the third (its Node deleted), and after it joined again. */
    left: MembershipStepSchema,
    joined: MembershipStepSchema,
    /** Datagrams between pods of the first two nodes during both steps, and how many came back. */
    flow: z.strictObject({ sent: z.number(), echoed: z.number() }),
  }),
});
export type OverlayRun = z.infer<typeof OverlayRunSchema>;

const ClusterResultSchema = z.strictObject({
  kernel: z.string(),
  profiles: z.array(ProfileRunSchema),
  controls: z.array(ControlRunSchema),
  /** The cross-node paths after the switch to `vnetRoutesAfter`; empty without one. */
  afterSwitch: z.array(PathRunSchema),
  /** The NetworkPolicy cases, when the job asked for them. */
  policies: z.array(PolicyCaseResultSchema).optional(),
  overlay: OverlayRunSchema.optional(),
  /** Set when the guest could not finish; the partial results above are still valid. */
  error: z.string().optional(),
});
export type ClusterResult = z.infer<typeof ClusterResultSchema>;

export const SuiteResultSchema = ClusterResultSchema.extend({
  /** The job's `more` runs, by name, in order. */
  more: z.array(z.strictObject({ name: z.string(), result: ClusterResultSchema })).optional(),
});
export type SuiteResult = z.infer<typeof SuiteResultSchema>;

/** The guest program's console line when its cluster is built and the first check starts. */
export function suiteStartsLine(setupMs: number): string {
  return `testbed: cluster ready in ${setupMs} ms; running the suite`;
}
export const SUITE_STARTS = /^testbed: cluster ready in \d+ ms; running the suite$/;

export const JOB_FILE = "job.json";
export const RESULT_FILE = "result.json";

/** Reads and validates a JSON file the other side wrote; the error names the file and the field. */
export async function readJsonFile<T>(file: string, schema: z.ZodType<T>): Promise<T> {
  const text = await readFile(file, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new Error(`${file} is not a valid testbed file:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
