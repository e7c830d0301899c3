import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseSpec } from "../spec/load.ts";
import { plan } from "../ipam/planner.ts";
import { renderNodeRules } from "../noderules/rules.ts";
import { backend } from "./backend.ts";
import { cleanupRules, syncRules } from "./apply.ts";
import { fakeRunner } from "../../test/fakes/runner.ts";

const spec = parseSpec(readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8"));
const desired = renderNodeRules(spec, plan(spec).nodes[0]!);
const legacy = backend("legacy");

describe("syncRules", () => {
  it("reads all tables with one iptables-save and fixes them with one iptables-restore --noflush", async () => {
    const runner = fakeRunner().on("iptables-legacy-save", { stdout: "" }).on("iptables-legacy-restore", {});
    const repairs = await syncRules(runner.run, legacy, desired);
    expect(repairs.length).toBeGreaterThan(0);
    expect(runner.calls.map((c) => [c.file, ...c.args].join(" "))).toEqual([
      "iptables-legacy-save",
      "iptables-legacy-restore --noflush --wait=5",
    ]);
    expect(runner.calls[1]!.input).toContain(":AKS-IPVLAN-MASQ - [0:0]");
  });

  it("spawns no restore when the node matches", async () => {
    const applied = fakeRunner().on("iptables-legacy-save", { stdout: "" }).on("iptables-legacy-restore", {});
    await syncRules(applied.run, legacy, desired);
    const state = `${applied.calls[1]!.input!}`.replace(/^-I OUTPUT 1 /m, "-A OUTPUT ");
    const runner = fakeRunner().on("iptables-legacy-save", { stdout: state });
    expect(await syncRules(runner.run, legacy, desired)).toEqual([]);
    expect(runner.calls).toHaveLength(1);
  });

  it("surfaces a failed restore", async () => {
    const runner = fakeRunner()
      .on("iptables-legacy-save", { stdout: "" })
      .on("iptables-legacy-restore", { code: 4, stderr: "line 2: TABLE_ADD failed" });
    await expect(syncRules(runner.run, legacy, desired)).rejects.toThrow(/TABLE_ADD failed/);
  });
});

describe("cleanupRules", () => {
  it("treats a backend whose save tool fails as holding nothing of ours", async () => {
    const runner = fakeRunner().on("iptables-nft-save", { code: 1 });
    expect(await cleanupRules(runner.run, backend("nft"), desired.owned)).toBe(false);
    expect(runner.calls).toHaveLength(1);
  });
});
