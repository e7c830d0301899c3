// The node agent under faults, on a real kernel with ipvlan (User-Mode Linux; the guest program is
// agents-guest.ts, its agents agent-worker.ts): agents reconciling one node at once, kill -9 at every
// point of a reconcile, and a read-only or full conf dir; each with a negative control showing that
// its check can fail.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { runInGuest } from "../../src/testbed/run.ts";
import { timedLines } from "../e2e/testbed.ts";
import type { ClusterSpecInput } from "../../src/spec/schema.ts";
import {
  COMPONENTS,
  FaultsResultSchema,
  WORKER_SOURCE,
  killVerdict,
  type FaultsJob,
  type Round,
} from "./agents-protocol.ts";

const AGENTS = 8;
/** The 20; fewer only to try a change quickly (each round is 8 reconciles from a clean node). */
const ROUNDS = Number(process.env.AKS_IPVLAN_FAULT_ROUNDS ?? 20);
const UNLOCKED_ROUNDS = 2;
const DESIRED = Object.fromEntries(COMPONENTS.map((component) => [component, "desired"]));

function broken(round: Round): boolean {
  return round.failures.length > 0 || killVerdict(round.state) !== "as desired";
}

describe("the agent under faults, on a real kernel", () => {
  it(
    `${AGENTS} agents × ${ROUNDS} rounds, kill -9 at every point of a reconcile, read-only and full conf dir`,
    { timeout: 3_600_000 },
    async () => {
      const spec = parse(
        readFileSync(resolve(import.meta.dirname, "../../examples/seed.yaml"), "utf8"),
      ) as ClusterSpecInput;
      const lines = timedLines("faults: ");
      const run = await runInGuest({
        entry: resolve(import.meta.dirname, "agents-guest.ts"),
        spec,
        job: { agents: AGENTS, rounds: ROUNDS, unlockedRounds: UNLOCKED_ROUNDS } satisfies Omit<
          FaultsJob,
          "specFile"
        >,
        schema: FaultsResultSchema,
        programs: [resolve(import.meta.dirname, "../..", WORKER_SOURCE)],
        onLine: lines.onLine,
        timeoutMs: 3_500_000,
      }).finally(lines.print);
      const result = run.result;
      expect(result.error).toBeUndefined();

      // Concurrency: no agent fails, and every round ends with exactly the desired node, one jump each.
      expect(result.rounds).toHaveLength(ROUNDS);
      expect(result.rounds.flatMap((round) => round.failures)).toEqual([]);
      for (const round of result.rounds) {
        expect(round.state, round.state.detail).toMatchObject({ ...DESIRED, jumps: 2 });
      }
      // Control: without the node lock the same rounds break (failed agents or a node not as desired).
      expect(result.unlockedRounds).toHaveLength(UNLOCKED_ROUNDS);
      expect(result.unlockedRounds.filter(broken).length).toBeGreaterThan(0);

      // kill -9: never "between", and one undisturbed reconcile completes the node.
      const verdicts = new Map<string, number>();
      for (const kill of result.kills) {
        expect(kill.reached, kill.point).toBe(true);
        const verdict = killVerdict(kill.state);
        expect(verdict, `kill at ${kill.point}: ${kill.state.detail}`).not.toBe("between");
        verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
        expect(kill.repaired, `after the kill at ${kill.point}`).toMatchObject({ ...DESIRED, jumps: 2 });
      }
      // The sweep reaches both ends and the steps between, or it proves nothing about them.
      // ("after filterRules" only when a kill lands between the two COMMITs of one restore: allowed, not
      // required.)
      for (const verdict of [
        "as before",
        "after hostDevice",
        "after sysctls",
        "after natRules",
        "as desired",
      ]) {
        expect(verdicts.get(verdict), verdict).toBeGreaterThan(0);
      }
      // Controls: the verdict does see a half-done state.
      expect(result.killControls.length).toBeGreaterThan(0);
      for (const control of result.killControls) {
        expect(killVerdict(control.state), control.what).toBe("between");
      }

      // A conf dir that cannot take the new conflist: a clear error, the old conflist in place.
      expect(result.readOnly).toMatchObject({ ok: false, conflistKept: true });
      expect(result.readOnly!.error).toMatch(/EROFS/);
      expect(result.full).toMatchObject({ ok: false, conflistKept: true });
      expect(result.full!.error).toMatch(/ENOSPC/);
      // Controls: the changed spec does change a writable conflist, and a plain write loses it when full.
      expect(result.changedWhenWritable).toBe(true);
      expect(result.plainWriteKeptConflist).toBe(false);

      console.log(
        JSON.stringify({
          bootMs: run.bootMs,
          totalMs: run.totalMs,
          phaseMs: result.phaseMs,
          workerStartMs: result.workerStartMs,
          runs: AGENTS * ROUNDS,
          unlockedBroken: `${result.unlockedRounds.filter(broken).length}/${UNLOCKED_ROUNDS}`,
          unlockedFailures: result.unlockedRounds.flatMap((round) => round.failures).slice(0, 3),
          kills: result.kills.length,
          verdicts: Object.fromEntries(verdicts),
        }),
      );
    },
  );
});
