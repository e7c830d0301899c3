import { describe, expect, it } from "vitest";
import { junitXml } from "./junit.ts";
import type { CheckResult } from "../verify/checks.ts";

const result = (status: CheckResult["status"], reason: string, output = ""): CheckResult => ({
  id: "egress",
  title: "pod → internet",
  nodes: "n1→internet",
  status,
  reason,
  evidence: [
    { where: "pod client-a", argv: ["busybox", "wget", "http://x/?a=1&b=2"], code: 1, output, durationMs: 5 },
  ],
  durationMs: 1500,
});

describe("junitXml", () => {
  it("counts failures and skips, and escapes what commands printed", () => {
    const xml = junitXml("verify", [
      result("fail", 'saw "<none>"', "bad\u0007bytes & more"),
      result("not-applicable", "needs a second node"),
      result("pass", "answered"),
    ]);
    expect(xml).toContain('<testsuite name="verify" tests="3" failures="1" skipped="1" time="4.500">');
    expect(xml).toContain('<failure message="saw &quot;&lt;none&gt;&quot;">');
    expect(xml).toContain("http://x/?a=1&amp;b=2");
    expect(xml).toContain("bad?bytes &amp; more");
    expect(xml).toContain('<skipped message="needs a second node"/>');
    expect(xml).not.toContain("\u0007");
  });
});
