// The imperative shell around the iptables planner: one iptables-save to read every table, at most
// one iptables-restore --noflush to fix our chains and jumps in a single transaction.
import type { Runner } from "../sys/exec.ts";
import type { ChainSet } from "./chain-set.ts";
import type { Backend } from "./backend.ts";
import { parseSave, type Tables } from "./save.ts";
import { planCleanup, planRules, type RuleRepair } from "./sync.ts";

/** Waits for the xtables lock (kube-proxy and kubelet hold it briefly) instead of failing at once. */
const RESTORE_ARGS = ["--noflush", "--wait=5"];

async function readTables(runner: Runner, backend: Backend): Promise<Tables> {
  return parseSave((await runner(backend.save, [], { timeoutMs: 10_000 })).stdout);
}

export async function syncRules(runner: Runner, backend: Backend, desired: ChainSet): Promise<RuleRepair[]> {
  const plan = planRules(desired, await readTables(runner, backend));
  if (plan.payload !== undefined) {
    await runner(backend.restore, RESTORE_ARGS, { input: plan.payload, timeoutMs: 30_000 });
  }
  return plan.repairs;
}

/** Returns whether anything was removed; a backend whose save tool does not work holds nothing of ours. */
export async function cleanupRules(
  runner: Runner,
  backend: Backend,
  owned: ChainSet["owned"],
): Promise<boolean> {
  const tables = await readTables(runner, backend).catch(() => undefined);
  const payload = tables && planCleanup(owned, tables);
  if (payload === undefined) return false;
  await runner(backend.restore, RESTORE_ARGS, { input: payload, timeoutMs: 30_000 });
  return true;
}
