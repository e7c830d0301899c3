// What the NetworkPolicy e2e run (netpol-guest.ts) must show, apart from running it: the datapath facts,
// every case cell by cell against the evaluator on one node and across nodes, the negative control and
// the window before a new pod's rules hold.
import { expect } from "vitest";
import type { NetpolE2eResult } from "./netpol-guest.ts";
import { CASES } from "../netpol/cases.ts";

/**
 * One case of each group on the real kernel; every case (60+) runs on the iptables simulator in
 * test/netpol/cases.test.ts, which relies on the datapath facts measured here. Chosen for what the
 * kernel could get wrong: same-node egress, UDP with named ports and port ranges, ipBlock across nodes.
 */
export const KERNEL_CASES = [
  "should support a 'default-deny-all' policy",
  "should deny egress from pods based on PodSelector",
  "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector [with deny-ingress]",
  "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
  "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
  "egress to a named UDP port resolves against each destination pod",
  "endPort: ingress to x/a allowed on the TCP range 80-81 from namespace y",
  "should enforce except clause while egress access to server in CIDR block",
];

export function expectNetpolResult(result: NetpolE2eResult, titles: readonly string[]): void {
  expect(result.error).toBeUndefined();

  // The facts enforcement is built on. The node's chains never see same-node pod traffic; the
  // client pod's OUTPUT sees all of its traffic; the server pod's INPUT sees only same-node
  // traffic: from another node, L3S delivers through the node's INPUT.
  const facts = result.facts!;
  expect(facts.nodeChainsBypassed).toEqual({ sameNode: true, crossNode: false });
  expect(facts.podOutputStops).toEqual({ sameNode: true, crossNode: true });
  expect(facts.podInputStops).toEqual({ sameNode: true, crossNode: false });
  const seen = facts.service;
  expect(seen["other-node backend INPUT src client"]).toBe(0);
  expect(seen["other-node backend's node INPUT src client dst backend"]).toBeGreaterThan(0);
  // Services: the client's namespace sees the ClusterIP (before DNAT), never the backend; a
  // same-node backend sees the node IP (hairpin SNAT); the node's OUTPUT sees pod → backend after
  // DNAT for both backends, and a REJECT there stops both.
  expect(seen["client OUTPUT dst ClusterIP"]).toBeGreaterThan(0);
  expect(seen["client OUTPUT dst backend"]).toBe(0);
  expect(seen["same-node backend INPUT src client"]).toBe(0);
  expect(seen["same-node backend INPUT src node IP"]).toBeGreaterThan(0);
  expect(seen["node OUTPUT ctstate DNAT src client dst same-node backend"]).toBeGreaterThan(0);
  expect(seen["node OUTPUT ctstate DNAT src client dst other-node backend"]).toBeGreaterThan(0);
  expect(facts.serviceNodeRejectStops).toEqual({ sameNode: true, crossNode: true });
  // nf_tables cannot create a table in this kernel: enforcement uses iptables-legacy.
  expect(facts.nft.addTable).toMatch(/Operation not supported|No such file/);

  // Every chosen case ran, one of each group, and passes cell by cell; every pair was probed on one
  // node and across.
  expect(result.cases.map((c) => c.title).sort()).toEqual([...titles].sort());
  expect(new Set(result.cases.map((c) => c.group))).toEqual(
    new Set(CASES.filter((c) => c.source === "upstream").map((c) => c.group)),
  );
  expect(result.cases.flatMap((c) => c.mismatches.map((m) => `${c.title}: ${JSON.stringify(m)}`))).toEqual(
    [],
  );
  expect(result.uncovered).toEqual({ sameNode: [], crossNode: [] });
  for (const c of result.cases) {
    expect(c.sameNode, c.title).toBeGreaterThan(0);
    expect(c.crossNode, c.title).toBeGreaterThan(0);
  }
  // Deny cells exist in every case (none is vacuous) ...
  for (const c of result.cases) expect(c.denied, c.title).toBeGreaterThan(0);
  // ... and with enforcement off they are reachable: the negative control fails every case it runs.
  expect(result.control!.length).toBe(result.cases.length);
  for (const control of result.control!) expect(control.mismatches, control.title).toBeGreaterThan(0);

  // The enforcer reads the kernel back: nothing to repair at rest, and a pod's flushed rules (its
  // denial gone, the negative control) put back by one verifying sync, those two pods' alone.
  expect(result.drift).toMatchObject({
    steadyRepairs: [],
    reachableWhileFlushed: true,
    deniedAfterRepair: true,
  });
  expect(result.drift!.repairedPods).toHaveLength(2);

  // A pod that appears under a deny policy is open until its rules are applied, closed after ...
  expect(result.window).toMatchObject({ reachableBefore: true, reachableAfter: false });
  // ... unless fail-closed: isolated from its first sync, before it is in the world, on every path.
  expect(result.window!.failClosed).toMatchObject({
    isolated: true,
    reachedSameNode: false,
    reachedCrossNode: false,
  });
}
