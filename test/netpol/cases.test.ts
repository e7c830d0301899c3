// The translated upstream cases, checked two ways without a kernel: the reference evaluator against
// upstream's own expectations, and the compiled rules (run by the iptables simulator, directly and
// through a Service) against the evaluator, for every pair of the 9-pod model on 3 nodes.
import { describe, expect, it } from "vitest";
import { parseNetworkPolicy } from "../../src/policy/model.ts";
import { CASES, MODEL_PODS, type CaseEnv, type ModelPod } from "./cases.ts";
import { SimCluster } from "./cluster-sim.ts";
import { caseTitle, caseWorld, expectedCells, modelPodOf, upstreamTable } from "./reachability.ts";

const NODE_IPS = { "node-0": "10.224.0.4", "node-1": "10.224.0.5", "node-2": "10.224.0.6" };
const env: CaseEnv = {
  ns: (name) => `netpol-${name}`,
  // Each node's pods come from its own /28 block, as the planner hands them out.
  ipOf: (pod) =>
    `10.244.0.${16 * (MODEL_PODS.indexOf(pod) % 3) + 4 + Math.floor(MODEL_PODS.indexOf(pod) / 3)}`,
};
const POD_CIDRS = { "node-0": ["10.244.0.0/28"], "node-1": ["10.244.0.16/28"], "node-2": ["10.244.0.32/28"] };
const nodeOf = (pod: ModelPod) => `node-${MODEL_PODS.indexOf(pod) % 3}`;
const nodeIPOf = (pod: { node: string }) => NODE_IPS[pod.node as keyof typeof NODE_IPS];

describe("translated upstream NetworkPolicy cases", () => {
  it("has at least 60 upstream cases, each named once per step", () => {
    const upstream = CASES.filter((c) => c.source === "upstream");
    expect(upstream.length).toBeGreaterThanOrEqual(60);
    const titles = CASES.map(caseTitle);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it("every case's policies pass the boundary parser", () => {
    for (const c of CASES)
      for (const policy of c.policies(env))
        expect(() => parseNetworkPolicy(policy), caseTitle(c)).not.toThrow();
  });

  it.each(CASES.filter((c) => c.upstream).map((c) => [caseTitle(c), c] as const))(
    "evaluator agrees with upstream's expectation: %s",
    (_title, c) => {
      const world = caseWorld(c, env, nodeOf);
      const table = upstreamTable(c);
      const created = new Set(c.upstream!.pods);
      // Upstream creates only some pods; reachability among them does not depend on the others.
      for (const cell of expectedCells(c, world, env, nodeIPOf)) {
        if (!created.has(cell.from) || !created.has(cell.to) || cell.from === cell.to) continue;
        expect(cell.allowed, `${cell.from} -> ${cell.to} ${cell.protocol}/${cell.port}`).toBe(
          table.get(`${cell.from}>${cell.to}`),
        );
      }
    },
  );

  it.each(CASES.map((c) => [caseTitle(c), c] as const))(
    "compiled rules agree with the evaluator: %s",
    (_title, c) => {
      const world = caseWorld(c, env, nodeOf);
      const cluster = new SimCluster(world, {
        nodeIPs: NODE_IPS,
        podCIDRs: POD_CIDRS,
        serviceCIDR: "10.0.0.0/16",
        clusterIP: "10.0.0.10",
      });
      let denied = 0;
      for (const cell of expectedCells(c, world, env, nodeIPOf)) {
        const client = modelPodOf(world, env, cell.from);
        const server = modelPodOf(world, env, cell.to);
        const label = `${cell.from} -> ${cell.to} ${cell.protocol}/${cell.port}`;
        expect(
          cluster.connect({ pod: client }, { pod: server }, cell.port, cell.protocol),
          `${label} by pod IP`,
        ).toBe(cell.allowed);
        if (cell.from !== cell.to)
          expect(
            cluster.connectViaService(client, server, cell.port, cell.protocol),
            `${label} via Service`,
          ).toBe(cell.allowed);
        // The kubelet on the server's node always gets through.
        expect(
          cluster.connect({ ip: nodeIPOf(server) }, { pod: server }, cell.port, cell.protocol),
          `node -> ${cell.to}`,
        ).toBe(true);
        if (!cell.allowed) denied++;
      }
      // A case with policies that deny nothing would not test enforcement; every case here denies something,
      // except the ones whose point is that nothing is denied.
      const allowsAll = c.upstream ? c.upstream.expect.every(([, , allowed]) => allowed) : false;
      if (!allowsAll) expect(denied, "cells denied").toBeGreaterThan(0);
    },
  );
});
