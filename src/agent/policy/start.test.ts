import { describe, expect, it } from "vitest";
import { pino } from "pino";
import type { EnforcedNode, SyncReport } from "./enforcer.ts";
import { policyEnforcement, type Timers } from "./start.ts";
import type { PolicyLoop } from "./watch.ts";

/** Timers the test fires by hand: no waiting, and the delays asked for are visible. */
function manualTimers() {
  const pending: { run: () => void; ms: number }[] = [];
  const timers: Timers = {
    setTimeout: (run, ms) => {
      const entry = { run, ms };
      pending.push(entry);
      return entry;
    },
    clearTimeout: (handle) => {
      const index = pending.indexOf(handle as (typeof pending)[number]);
      if (index >= 0) pending.splice(index, 1);
    },
  };
  return { timers, pending, fire: () => pending.shift()!.run() };
}

const EMPTY_REPORT: SyncReport = {
  applied: [],
  unlocated: [],
  isolated: [],
  failed: [],
  enforcedPods: 0,
  rulesProgrammed: 0,
  nodeRulesApplied: false,
  repairs: { pods: [], node: [] },
  durationMs: 0,
  compileMs: 0,
  applyMs: 0,
};

function fakeLoop(followed: EnforcedNode[]): PolicyLoop & { synced(): void } {
  let synced = false;
  return {
    firstSync: Promise.resolve(),
    last: () => (synced ? EMPTY_REPORT : undefined),
    error: () => undefined,
    follow: (node) => void followed.push(node),
    stop: async () => undefined,
    synced: () => void (synced = true),
  };
}

const node = (...podCIDRs: string[]): EnforcedNode => ({ nodeIP: "10.224.0.9", podCIDRs });

describe("NetworkPolicy enforcement on a node", () => {
  it("waits for a block, starts with the first, retries a failed start with a growing backoff", async () => {
    const { timers, pending, fire } = manualTimers();
    const followed: EnforcedNode[] = [];
    const loop = fakeLoop(followed);
    const starts: EnforcedNode[] = [];
    let failures = 2;
    const enforcement = policyEnforcement({
      log: pino({ level: "silent" }),
      timers,
      backoff: { firstMs: 1_000, maxMs: 60_000 },
      start: (at) => {
        starts.push(at);
        if (failures-- > 0) throw new Error("the API is not there yet");
        return loop;
      },
    });
    enforcement.follow({ waiting: "node node9 has no block yet (the controller assigns one)" });
    expect(enforcement.state()).toEqual({ enforced: false, reason: expect.stringMatching(/no block yet/) });
    expect(starts).toEqual([]);

    enforcement.follow(node("10.224.0.64/28"));
    expect(enforcement.state()).toEqual({ enforced: false, reason: expect.stringMatching(/did not start/) });
    expect(pending.map((entry) => entry.ms)).toEqual([1_000]);
    // A reconcile meanwhile neither starts twice nor resets the backoff.
    enforcement.follow(node("10.224.0.64/28"));
    expect(starts).toHaveLength(1);
    fire();
    expect(pending.map((entry) => entry.ms)).toEqual([2_000]);
    fire();
    expect(starts).toHaveLength(3);
    expect(pending).toEqual([]);
    expect(enforcement.state()).toEqual({ enforced: false, reason: expect.stringMatching(/starting/) });
    loop.synced();
    expect(enforcement.state()).toEqual({ enforced: true });

    // A second block goes to the running loop.
    enforcement.follow(node("10.224.0.64/28", "10.224.0.80/28"));
    expect(followed).toEqual([node("10.224.0.64/28", "10.224.0.80/28")]);
    expect(starts).toHaveLength(3);
    await enforcement.stop();
  });

  it("stopping cancels a pending retry", async () => {
    const { timers, pending } = manualTimers();
    const enforcement = policyEnforcement({
      log: pino({ level: "silent" }),
      timers,
      start: () => {
        throw new Error("no");
      },
    });
    enforcement.follow(node("10.224.0.64/28"));
    expect(pending).toHaveLength(1);
    await enforcement.stop();
    expect(pending).toHaveLength(0);
  });
});
