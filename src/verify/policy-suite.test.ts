import { describe, expect, it } from "vitest";
import { POLICY_CASES, expectedCells, type ModelPod, type ProbeAnswer } from "./policy-cases.ts";
import { runPolicyCases, type PolicyCluster } from "./policy-suite.ts";
import type { NodeRef } from "./driver.ts";
import { modelEnv } from "../../test/fixtures/policy-model.ts";

const NODES: NodeRef[] = [
  { name: "node1", ip: "10.224.0.4" },
  { name: "node2", ip: "10.224.0.5" },
];
const env = modelEnv((model) => model);
const IPS = env.ips;
const denyIngress = POLICY_CASES[0]!;
const byIp = new Map(Object.entries(IPS).map(([model, ip]) => [ip, model as ModelPod]));

/**
 * A cluster whose every cell answers as the evaluator says (a denial refuses), except the cell under
 * test, `y/a → y/b` (allowed: the policy isolates x only), which gets `answer(round)` in each round.
 */
function cluster(answer: (round: number) => ProbeAnswer): { cluster: PolicyCluster; rounds: () => number } {
  const allowed = new Map(
    expectedCells(denyIngress, env).map((cell) => [`${cell.from}>${cell.to}`, cell.allowed]),
  );
  let rounds = 0;
  return {
    rounds: () => rounds,
    cluster: {
      createModel: async () => env,
      apply: async () => undefined,
      remove: async () => undefined,
      async probe(from, targets) {
        if (from === "y/a") rounds++;
        return targets.map(({ ip }) => {
          const to = byIp.get(ip)!;
          if (from === "y/a" && to === "y/b") return answer(rounds);
          return allowed.get(`${from}>${to}`) ? "open" : "refused";
        });
      },
    },
  };
}

const run = (fake: PolicyCluster) => runPolicyCases(fake, NODES, { settleMs: 0, cases: [denyIngress] });

describe("runPolicyCases: what a cell's answer means", () => {
  it("the control: the cell under test is allowed", () => {
    const cell = expectedCells(denyIngress, env).find((c) => c.from === "y/a" && c.to === "y/b")!;
    expect(cell.allowed).toBe(true);
  });

  it("silence where a cell should open is tried again past the settle time, and an answer then counts", async () => {
    const fake = cluster((round) => (round < 3 ? "silent" : "open"));
    const [result] = await run(fake.cluster);
    expect(result!.wrong).toEqual([]);
    expect(fake.rounds()).toBe(3);
  });

  it("a refusal where a cell should open is final once the settle time is over", async () => {
    const fake = cluster(() => "refused");
    const [result] = await run(fake.cluster);
    expect(result!.wrong).toEqual([{ from: "y/a", to: "y/b", port: 80, expected: true }]);
    expect(fake.rounds()).toBe(1);
  });

  it("silence that never ends is wrong after a bounded number of rounds", async () => {
    const fake = cluster(() => "silent");
    const [result] = await run(fake.cluster);
    expect(result!.wrong).toEqual([{ from: "y/a", to: "y/b", port: 80, expected: true }]);
    expect(fake.rounds()).toBeGreaterThan(1);
    expect(fake.rounds()).toBeLessThan(10);
  });
});
