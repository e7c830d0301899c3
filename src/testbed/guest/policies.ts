// The demo's NetworkPolicy section: `verify --policies`'s cases (src/verify/policy-cases.ts) on the
// emulated cluster. No API server runs in the guest, so the policies reach the node agents' enforcers
// (src/agent/policy/enforcer.ts, one per node, as the agent runs it) directly as the world the cases
// describe, instead of through the agent's informers; the probes are the same busybox GETs from each
// client pod's network namespace, compared cell by cell with the reference evaluator.
import { join } from "node:path";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { backend } from "../../iptables/backend.ts";
import { PolicyEnforcer } from "../../agent/policy/enforcer.ts";
import { netnsLocator } from "../../agent/policy/netns.ts";
import type { NetworkPolicy, PolicyWorld } from "../../policy/model.ts";
import type { NodeRef, PodRef } from "../../verify/driver.ts";
import {
  MODEL_PODS,
  SERVED_PORTS,
  modelWorld,
  probeAnswers,
  probeCommand,
  probeTimeoutMs,
  type ModelPod,
  type PolicyRunEnv,
} from "../../verify/policy-cases.ts";
import { runPolicyCases, type PolicyCaseResult, type PolicyCluster } from "../../verify/policy-suite.ts";
import type { Testbed } from "./cluster.ts";
import { inNetns } from "./netns.ts";
import { SERVICE_CIDR } from "./services.ts";

/** Syncs that fail (a slow guest's iptables timing out) are retried by the agent; here, up to this often. */
const SYNC_ATTEMPTS = 3;

/**
 * The agent's enforcer for one node of the testbed, wired as the agent wires it (the node's IP and
 * blocks, its namespace, iptables-legacy: nf_tables cannot make a table in the testbed's UML kernel,
 * docs/datapath-findings.md), for programs that feed it a world of their own instead of informers:
 * the demo, the NetworkPolicy e2e guest and the datapath bench.
 */
export function testbedEnforcer(
  testbed: Testbed,
  node: NodeRef,
  options: { failClosed: boolean; stateDir: string },
): PolicyEnforcer {
  return new PolicyEnforcer({
    node: node.name,
    nodeIP: node.ip,
    serviceCIDR: SERVICE_CIDR,
    podCIDRs: testbed.plan.nodes.find((plan) => plan.name === node.name)!.blocks.map((block) => block.cidr),
    failClosed: options.failClosed,
    runner: inNetns(node.name),
    backend: backend("legacy"),
    locator: netnsLocator(inNetns(node.name)),
    stateDir: join(options.stateDir, node.name, options.failClosed ? "fail-closed" : "policy"),
  });
}

/** Every node's enforcer brought to `world`; what fails is synced again, a few times at most. */
export async function syncEnforcers(enforcers: readonly PolicyEnforcer[], world: PolicyWorld): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const reports = await Promise.all(enforcers.map((enforcer) => enforcer.sync(world)));
    const failed = reports.flatMap((report) => [
      ...report.failed.map((outcome) => `${outcome.pod}: ${outcome.error}`),
      ...report.unlocated.map((pod) => `${pod}: no network namespace`),
      ...(report.nodeRulesError ? [`node rules: ${report.nodeRulesError}`] : []),
    ]);
    if (failed.length === 0) return;
    if (attempt === SYNC_ATTEMPTS) throw new Error(`policy enforcement failed: ${failed.join("; ")}`);
  }
}

export async function runPolicyDemo(testbed: Testbed, root: string): Promise<PolicyCaseResult[]> {
  const nodes = await testbed.nodes();
  const enforcers = nodes.map((node) =>
    testbedEnforcer(testbed, node, { failClosed: false, stateDir: root }),
  );
  const www = join(root, "policy-www");
  await writeFileAtomic(join(www, "index.html"), "ok\n");
  const pods = new Map<ModelPod, PodRef>();
  let env: PolicyRunEnv | undefined;
  let policies: NetworkPolicy[] = [];

  const enforce = () => syncEnforcers(enforcers, modelWorld(env!, policies));

  const cluster: PolicyCluster = {
    async createModel(placement) {
      for (const model of MODEL_PODS) {
        const pod = await testbed.createPod({
          name: `policy-${model.replace("/", "-")}`,
          node: placement[model].name,
          role: "client",
        });
        for (const port of SERVED_PORTS)
          await testbed.execInPod(pod, ["busybox", "httpd", "-p", String(port), "-h", www]);
        pods.set(model, pod);
      }
      const nodeIPs = new Map(nodes.map((node) => [node.name, node.ip]));
      env = {
        namespace: (model) => model,
        pod: (model) => ({ ip: pods.get(model)!.ip, node: pods.get(model)!.node }),
        nodeIP: (node) => nodeIPs.get(node)!,
      };
      return env;
    },
    async apply(policy) {
      policies = [...policies, policy];
      await enforce();
    },
    async remove(policy) {
      policies = policies.filter((entry) => entry !== policy);
      await enforce();
    },
    async probe(from, targets) {
      const result = await testbed.execInPod(pods.get(from)!, probeCommand(targets), {
        timeoutMs: probeTimeoutMs(targets),
      });
      return probeAnswers(from, targets, result);
    },
  };
  try {
    // Enforcement is in force when apply() returns; a cell that disagrees is probed again for a few
    // seconds only because a probe's 3 s can run out on a starved guest CPU. A wrong rule stays wrong.
    return await runPolicyCases(cluster, nodes, { settleMs: 5_000 });
  } finally {
    policies = [];
    if (env) await enforce();
    for (const pod of pods.values()) await testbed.deletePod(pod);
  }
}
