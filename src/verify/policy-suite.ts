// Running `verify --policies`: the model's pods spread over two nodes, then for each case its policies
// applied, every cell probed and compared with the reference evaluator, the policies removed. A cell
// that disagrees is probed again until it agrees or the settle time is over: the agents need a moment
// to see a new policy, and how long they took is reported. Silence is not an answer: a denial answers
// at once (REJECT), so a cell that should open and only got silence (a slow node, a starved CPU) gets
// more rounds past the settle time before it counts as wrong.
import { setTimeout as delay } from "node:timers/promises";
import { mapBounded } from "../sys/bounded.ts";
import type { NetworkPolicy } from "../policy/model.ts";
import type { NodeRef } from "./driver.ts";
import {
  MODEL_PODS,
  POLICY_CASES,
  expectedCells,
  type ModelPod,
  type PolicyCase,
  type PolicyCell,
  type PolicyRunEnv,
  type ProbeAnswer,
} from "./policy-cases.ts";

/** Rounds past the settle time for cells that should open and only got silence. */
const SILENT_ROUNDS = 5;

/** What the policy cases need from a cluster. */
export interface PolicyCluster {
  /** Creates the model's namespaces and pods (each on its node), serving; says where they are. */
  createModel(placement: Record<ModelPod, NodeRef>): Promise<PolicyRunEnv>;
  apply(policy: NetworkPolicy): Promise<void>;
  remove(policy: NetworkPolicy): Promise<void>;
  /** From the model pod `from`, one TCP connection to each target: what it got, in order. */
  probe(from: ModelPod, targets: readonly { ip: string; port: number }[]): Promise<ProbeAnswer[]>;
}

interface PolicyMismatch {
  from: ModelPod;
  to: ModelPod;
  port: number;
  expected: boolean;
}

export interface PolicyCaseResult {
  name: string;
  group: PolicyCase["group"];
  cells: number;
  sameNode: number;
  crossNode: number;
  /** Cells the evaluator denies. */
  denied: number;
  /** Cells still disagreeing with the evaluator when the settle time was over. */
  wrong: PolicyMismatch[];
  /** From the policies' creation to the first probe round with every cell as expected. */
  settledMs?: number;
}

export interface PolicyRunOptions {
  /** How long a cell may disagree before it counts as wrong (agents take a moment to see a policy). */
  settleMs: number;
  /** Pause between probe rounds of the cells that still disagree. */
  retryMs?: number;
  cases?: readonly PolicyCase[];
}

/** x/a and y/b on the first node, x/b and y/a on the second: every pair is probed within or across. */
export function placeModel(nodes: readonly NodeRef[]): Record<ModelPod, NodeRef> {
  const [first, second = first] = nodes;
  if (!first) throw new Error("the cluster has no Ready Linux nodes");
  return { "x/a": first, "x/b": second!, "y/a": second!, "y/b": first };
}

export async function runPolicyCases(
  cluster: PolicyCluster,
  nodes: readonly NodeRef[],
  options: PolicyRunOptions,
): Promise<PolicyCaseResult[]> {
  const env = await cluster.createModel(placeModel(nodes));
  const results: PolicyCaseResult[] = [];
  for (const c of options.cases ?? POLICY_CASES) {
    const policies = c.policies(env);
    const started = performance.now();
    for (const policy of policies) await cluster.apply(policy);
    try {
      results.push(await probeCase(cluster, env, c, started, options));
    } finally {
      for (const policy of policies) await cluster.remove(policy);
    }
  }
  return results;
}

async function probeCase(
  cluster: PolicyCluster,
  env: PolicyRunEnv,
  c: PolicyCase,
  started: number,
  options: PolicyRunOptions,
): Promise<PolicyCaseResult> {
  const cells = expectedCells(c, env);
  const same = (cell: PolicyCell) => env.pod(cell.from).node === env.pod(cell.to).node;
  let pending = cells;
  let silentRounds = 0;
  for (;;) {
    const answers = await probeCells(cluster, env, pending);
    const agrees = (cell: PolicyCell, answer: ProbeAnswer) =>
      cell.allowed ? answer === "open" : answer !== "open";
    const silent = pending.filter((cell, i) => cell.allowed && answers[i] === "silent");
    pending = pending.filter((cell, i) => !agrees(cell, answers[i]!));
    const elapsed = performance.now() - started;
    const settled = elapsed >= options.settleMs;
    const patient = silent.length > 0 && silentRounds < SILENT_ROUNDS;
    if (settled && patient) silentRounds++;
    if (pending.length === 0 || (settled && !patient)) {
      return {
        name: c.name,
        group: c.group,
        cells: cells.length,
        sameNode: cells.filter(same).length,
        crossNode: cells.filter((cell) => !same(cell)).length,
        denied: cells.filter((cell) => !cell.allowed).length,
        wrong: pending.map(({ from, to, port, allowed }) => ({ from, to, port, expected: allowed })),
        ...(pending.length === 0 ? { settledMs: Math.round(elapsed) } : {}),
      };
    }
    if (options.retryMs) await delay(options.retryMs);
  }
}

/** One probe batch per client pod, the clients at once; answers in the order of `cells`. */
async function probeCells(
  cluster: PolicyCluster,
  env: PolicyRunEnv,
  cells: readonly PolicyCell[],
): Promise<ProbeAnswer[]> {
  const clients = MODEL_PODS.filter((pod) => cells.some((cell) => cell.from === pod));
  const answers = new Map<PolicyCell, ProbeAnswer>();
  await mapBounded(clients, clients.length, async (from) => {
    const mine = cells.filter((cell) => cell.from === from);
    const opened = await cluster.probe(
      from,
      mine.map((cell) => ({ ip: env.pod(cell.to).ip, port: cell.port })),
    );
    mine.forEach((cell, i) => answers.set(cell, opened[i] ?? "silent"));
  });
  return cells.map((cell) => answers.get(cell)!);
}

/** One line per wrong cell, for the lines under a table. */
export function wrongCellLines(results: readonly PolicyCaseResult[]): string[] {
  return results.flatMap((result) =>
    result.wrong.map(
      (cell) =>
        `${result.name}: ${cell.from} → ${cell.to}:${cell.port} should be ${cell.expected ? "open" : "closed"}`,
    ),
  );
}
