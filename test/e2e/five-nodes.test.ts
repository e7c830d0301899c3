// Five nodes in another node subnet (10.240.0.0/16) with /27 blocks, on a real kernel: every check
// passes, and the pods got addresses from the planned /27 blocks.
import { beforeAll, describe, expect, it } from "vitest";
import { CHECK_IDS } from "../../src/verify/checks.ts";
import { resolve } from "node:path";
import type { SuiteResult } from "../../src/testbed/job.ts";
import { loadSpec } from "../../src/spec/load.ts";
import { plan } from "../../src/ipam/planner.ts";
import { containsIp, parseCidr, parseIp } from "../../src/net/cidr.ts";
import { BOOT_TIMEOUT_MS, runTestbed, statusOf } from "./testbed.ts";

let result: SuiteResult;

beforeAll(async () => {
  result = await runTestbed("examples/five-nodes.yaml", { profiles: ["product"], controls: false });
}, BOOT_TIMEOUT_MS);

describe("aks-ipvlan on examples/five-nodes.yaml", () => {
  it("built five nodes", () => {
    expect(result.profiles[0]?.nodes).toBe(5);
  });

  it.each(CHECK_IDS)("%s passes", (id) => {
    expect(statusOf(result.profiles[0]!.results, id)).toBe("pass");
  });

  it("the first node's pods got addresses from its planned /27 block", async () => {
    const spec = await loadSpec(resolve(import.meta.dirname, "../../examples/five-nodes.yaml"));
    const block = parseCidr(plan(spec).nodes[0]!.blocks[0]!.cidr);
    expect(block.prefix).toBe(27);
    const check = result.profiles[0]!.results.find((candidate) => candidate.id === "pod-to-pod-same-node")!;
    const seen = check.reason.match(/the server saw (\S+)$/)?.[1];
    expect(seen && containsIp(block, parseIp(seen))).toBe(true);
  });
});
