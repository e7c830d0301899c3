// The seed's three nodes on a real kernel (User-Mode Linux): every check passes with aks-ipvlan, each
// negative control makes its checks fail, and the seed's configuration as written fails where it lacks
// a piece. If the kernel cannot boot, beforeAll fails with the reason (never a skip).
import { beforeAll, describe, expect, it } from "vitest";
import { CHECK_IDS, type Evidence } from "../../src/verify/checks.ts";
import { CONTROLS } from "../../src/testbed/guest/controls.ts";
import type { SuiteResult } from "../../src/testbed/job.ts";
import { BOOT_TIMEOUT_MS, runTestbed, statusOf } from "./testbed.ts";

let result: SuiteResult;

beforeAll(async () => {
  result = await runTestbed("examples/seed.yaml", { profiles: ["product", "seed"], controls: true });
}, BOOT_TIMEOUT_MS);

const profile = (name: string) => {
  const run = result.profiles.find((candidate) => candidate.profile === name);
  if (!run) throw new Error(`no results for profile ${name}`);
  return run.results;
};

describe("aks-ipvlan on examples/seed.yaml", () => {
  it.each(CHECK_IDS)("%s passes", (id) => {
    expect(statusOf(profile("product"), id)).toBe("pass");
  });

  it("the metadata checks' node-side controls reach the listeners", () => {
    for (const id of ["wireserver-closed", "imds-closed"] as const) {
      const check = profile("product").find((candidate) => candidate.id === id)!;
      const fromNode = check.evidence.filter((evidence) => evidence.where.startsWith("node "));
      const fromPod = check.evidence.filter((evidence) => evidence.where.startsWith("pod "));
      // Any HTTP answer, also an error status, means the listener was reached.
      const reached = (evidence: Evidence) =>
        evidence.code === 0 || /server returned error/.test(evidence.output);
      expect(fromNode.length).toBeGreaterThan(0);
      expect(fromNode.filter((evidence) => !reached(evidence))).toEqual([]);
      expect(fromPod.filter(reached)).toEqual([]);
    }
  });
});

describe("negative controls", () => {
  it.each(CONTROLS.map((control) => [control.id, control.mustFail] as const))(
    "%s makes %j fail",
    (id, mustFail) => {
      const control = result.controls.find((candidate) => candidate.id === id);
      expect(control, `control ${id} did not run`).toBeDefined();
      for (const check of mustFail) expect(statusOf(control!.results, check)).toMatch(/^fail/);
    },
  );

  it("ran every control, in order", () => {
    expect(result.controls.map((control) => control.id)).toEqual(CONTROLS.map((control) => control.id));
  });
});

describe("the seed's configuration as written", () => {
  it("gets egress and same-node pod-to-pod right", () => {
    expect(statusOf(profile("seed"), "egress")).toBe("pass");
    expect(statusOf(profile("seed"), "pod-to-pod-same-node")).toBe("pass");
  });

  it.each([
    ["pod-to-pod-cross-node", "no VNet routes"],
    ["node-to-pod", "no host device"],
    ["clusterip-same-node", "no host device"],
    ["hostport", "no portmap"],
    ["wireserver-closed", "no metadata protection"],
    ["imds-closed", "no metadata protection"],
  ] as const)("fails %s (%s)", (id, _cause) => {
    expect(statusOf(profile("seed"), id)).toMatch(/^fail/);
  });
});
