// The node agent on a real kernel: the testbed's emulated AKS (User-Mode Linux) with the long-running
// agent on every node. The guest program (agent-guest.ts) breaks and restarts things; this asserts.
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { runInGuest } from "../../src/testbed/run.ts";
import type { ClusterSpecInput } from "../../src/spec/schema.ts";
import type { AgentE2eResult } from "./agent-guest.ts";
import { AgentE2eResultSchema } from "./agent-result.ts";
import { timedLines } from "./testbed.ts";

const RESYNC_SECONDS = 2;
const LEAK_GRACE_SECONDS = 15;

describe("the node agent in the testbed", () => {
  // One guest boot for every case below: the guest program runs the whole scenario, the cases read
  // its result.
  let result: AgentE2eResult;
  beforeAll(async () => {
    const seed = parse(
      readFileSync(resolve(import.meta.dirname, "../../examples/seed.yaml"), "utf8"),
    ) as ClusterSpecInput;
    // During the suite no address may be collected; the guest shortens the grace period later.
    const spec: ClusterSpecInput = { ...seed, agent: { leakGraceSeconds: 3600 } };
    const lines = timedLines("agent-e2e: ");
    const run = await runInGuest({
      entry: resolve(import.meta.dirname, "agent-guest.ts"),
      spec,
      // Three restarts: the first finds the doubled jump, the rest must find nothing to do.
      job: { resyncSeconds: RESYNC_SECONDS, leakGraceSeconds: LEAK_GRACE_SECONDS, restarts: 3 },
      schema: AgentE2eResultSchema,
      timeoutMs: 1_500_000,
      onLine: lines.onLine,
    }).finally(lines.print);
    result = run.result;
    console.log(
      JSON.stringify(
        {
          bootMs: run.bootMs,
          startToReadyMs: result.startToReadyMs,
          rssKb: result.rssKb,
          repairs: result.repairs.map((r) => ({ what: r.what, ms: r.ms, reconciles: r.reconciles })),
          leakReleasedAfterMs: result.leaks?.releasedAfterMs,
        },
        null,
        2,
      ),
    );
  }, 1_560_000);

  it("runs the whole scenario without an error", () => {
    expect(result.error).toBeUndefined();
  });

  it("sets up every node: every verification check passes with the agent as the only node setup", () => {
    expect(result.suite.length).toBeGreaterThan(0);
    expect(
      result.suite.filter((check) => check.status !== "pass").map((check) => `${check.id}: ${check.reason}`),
    ).toEqual([]);
    expect(result.startToReadyMs).toHaveLength(3);
  });

  it("reports ready with the detected backend (kube-proxy's rules are in iptables-legacy)", () => {
    expect(result.status).toMatchObject({
      ready: true,
      backend: "legacy",
      blocks: ["10.224.0.16/28"],
      ipForward: "1",
    });
    expect(String(result.status?.backendReason)).toMatch(/legacy holds more rules/);
  });

  it("repairs each break, exactly once, and puts the node back as it was", () => {
    expect(result.repairs.map((r) => r.what)).toEqual([
      "masquerade chain deleted",
      "conflist deleted",
      "host route deleted",
      "ip_forward set to 0",
    ]);
    for (const repair of result.repairs) {
      expect(repair.restored, repair.what).toBe(true);
      // One repair of this kind; how many reconciles it took is a figure (printed above): a starved
      // guest CPU delays the check that reads the counters, not the agent's verdict.
      expect(repair.counter[1], repair.what).toBeGreaterThan(repair.counter[0]);
    }
  });

  it("keeps leaked addresses while young, frees them after the grace period, and keeps live pods' ones", () => {
    const leaks = result.leaks!;
    expect(leaks.doomed).toHaveLength(5);
    expect(leaks.keptWithinGrace.sort()).toEqual([...leaks.doomed].sort());
    expect(leaks.remaining.filter((ip) => leaks.doomed.includes(ip))).toEqual([]);
    for (const ip of leaks.live) expect(leaks.remaining).toContain(ip);
    expect(leaks.releasedCounter).toBe(5);
  });

  it("leaves the datapath in place on SIGTERM, and one copy of each rule and jump after restarts", () => {
    expect(result.sigterm).toEqual({ exitCode: 0, unchanged: true });
    const restarts = result.restarts!;
    expect(restarts.failures).toBe(0);
    expect(restarts.duplicateJumpsBefore).toBe(3);
    expect(restarts.afterMatchesInstall).toBe(true);
    expect(Object.keys(restarts.ruleCounts).length).toBeGreaterThanOrEqual(7);
    for (const [rule, count] of Object.entries(restarts.ruleCounts)) expect(count, rule).toBe(1);
  });

  it("--cleanup brings iptables, links, routes and the conf dir back to where they began, and only ours", () => {
    const cleanup = result.cleanup!;
    expect(cleanup.output).not.toMatch(/exit [^0]/);
    expect(cleanup.after).toEqual(cleanup.before);
    const ours = (s: typeof cleanup.before) => [
      s.iptables.includes("AKS-IPVLAN"),
      s.links.includes("ipvl-host"),
      s.routes.includes("ipvl-host"),
      s.confDir.includes("10-aks-ipvlan.conflist"),
    ];
    expect(ours(cleanup.installed)).toEqual([true, true, true, true]);
    expect(ours(cleanup.before)).toEqual([false, false, false, false]);
    // Everyone else's state survives: kube-proxy's and portmap's chains, eth0 and its routes.
    expect(cleanup.before.iptables).toMatch(/KUBE-SERVICES/);
    expect(cleanup.before.iptables).toMatch(/CNI-HOSTPORT-DNAT/);
    expect(cleanup.before.links).toEqual(cleanup.atAgentStart.links);
    expect(cleanup.before.routes).toEqual(cleanup.atAgentStart.routes);
    expect(cleanup.before.confDir).toEqual(cleanup.atAgentStart.confDir);
  });

  it("refuses a master whose ipvlan devices use another mode rather than switch every pod's mode", () => {
    expect(result.refusal?.lastError).toMatch(
      /refusing to touch eth0: ipvlan device rogue0 on it uses mode l2/,
    );
  });
});
