import { describe, expect, it } from "vitest";
import { allPassed, failureLines, formatChecks } from "./check-report.ts";
import type { CheckResult } from "../verify/checks.ts";

function check(id: CheckResult["id"], status: CheckResult["status"], durationMs = 1200): CheckResult {
  return { id, title: id, nodes: "node1", status, reason: `${id} ${status}`, evidence: [], durationMs };
}

describe("report", () => {
  const product = { label: "aks-ipvlan", results: [check("egress", "pass"), check("dns", "pass", 300)] };
  const seed = { label: "seed", results: [check("egress", "pass"), check("dns", "fail")] };

  it("prints one row per check and one column per run", () => {
    expect(formatChecks([product, seed]).split("\n")).toEqual([
      "check   nodes  aks-ipvlan  seed",
      "egress  node1  pass 1.2s   pass 1.2s",
      "dns     node1  pass 0.3s   FAIL 1.2s",
    ]);
  });

  it("lists the failures and passes only when nothing failed", () => {
    expect(failureLines(seed)).toEqual(["seed: dns: dns fail"]);
    expect(allPassed(product.results)).toBe(true);
    expect(allPassed(seed.results)).toBe(false);
    expect(allPassed([check("egress", "not-applicable")])).toBe(true);
    expect(allPassed([])).toBe(false);
  });
});
