// The node agent under faults, on a real kernel with ipvlan (User-Mode Linux; the guest program is
// agents-guest.ts): 8 agents at once for 20 rounds, kill -9 at a sweep of moments through a
// reconcile, and a read-only or full conf dir.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { runInGuest } from "../../src/testbed/run.ts";
import type { ClusterSpecInput } from "../../src/spec/schema.ts";
import type { FaultsJob, FaultsResult, NodeState } from "./agents-guest.ts";

const AGENTS = 8;
const ROUNDS = 20;
const KILLS = 24;

/** The reconcile's order; a node killed mid-way holds a prefix of it, each component whole. */
const ORDER = ["hostDevice", "ipForward", "rules", "conflist"] as const;

function applied(state: NodeState): boolean[] {
  return [state.hostDevice, state.ipForward, state.rules === "desired", state.conflist === "desired"];
}

describe("the agent under faults, on a real kernel", () => {
  it(
    `${AGENTS} agents × ${ROUNDS} rounds, ${KILLS} kills, read-only and full conf dir`,
    { timeout: 1_500_000 },
    async () => {
      const spec = parse(
        readFileSync(resolve(import.meta.dirname, "../../examples/seed.yaml"), "utf8"),
      ) as ClusterSpecInput;
      const { result, bootMs } = await runInGuest<Omit<FaultsJob, "specFile">, FaultsResult>({
        entry: resolve(import.meta.dirname, "agents-guest.ts"),
        spec,
        job: { agents: AGENTS, rounds: ROUNDS, kills: KILLS },
        timeoutMs: 1_400_000,
      });
      expect(result.error).toBeUndefined();

      // Concurrency: no agent fails, and the node ends with exactly the desired state, one jump each.
      expect(result.rounds).toHaveLength(ROUNDS);
      const failures = result.rounds.flatMap((round) => round.failures);
      expect(failures).toEqual([]);
      for (const round of result.rounds) {
        expect(round.codes).toEqual(Array(AGENTS).fill(0));
        expect(round.jumps).toBe(2);
        expect(round.state).toMatchObject({
          hostDevice: true,
          ipForward: true,
          rules: "desired",
          conflist: "desired",
        });
      }

      // kill -9: each component whole (never a partial chain or file), applied in order, and the next
      // reconcile completes the node.
      const seen = new Map<string, number>();
      for (const kill of result.kills) {
        expect(kill.state.rules, `kill at ${kill.delayMs} ms`).not.toBe("partial");
        expect(kill.state.conflist, `kill at ${kill.delayMs} ms`).not.toBe("other");
        expect(kill.state.jumps).toBeLessThanOrEqual(2);
        const steps = applied(kill.state);
        const done = steps.filter(Boolean).length;
        expect(steps, `kill at ${kill.delayMs} ms: a prefix of ${ORDER.join(", ")}`).toEqual(
          ORDER.map((_, index) => index < done),
        );
        const label =
          done === 0 ? "as before" : done === ORDER.length ? "as desired" : `after ${ORDER[done - 1]}`;
        seen.set(label, (seen.get(label) ?? 0) + 1);
        expect(kill.repaired).toMatchObject({
          hostDevice: true,
          ipForward: true,
          rules: "desired",
          conflist: "desired",
          jumps: 2,
        });
      }
      // The sweep must reach both ends, or it proves nothing about the moments between.
      expect(seen.get("as before")).toBeGreaterThan(0);
      expect(seen.get("as desired")).toBeGreaterThan(0);

      // A conf dir that cannot take the new conflist: a clear error, the old conflist in place.
      expect(result.readOnly).toMatchObject({ code: 1, conflistKept: true });
      expect(result.readOnly!.error).toMatch(/EROFS/);
      expect(result.full).toMatchObject({ code: 1, conflistKept: true });
      expect(result.full!.error).toMatch(/ENOSPC/);

      console.log(
        JSON.stringify({
          bootMs,
          runs: AGENTS * ROUNDS,
          failed: failures.length,
          kills: result.kills.length,
          killStates: Object.fromEntries(seen),
        }),
      );
    },
  );
});
