// The agent's PolicyEnforcer for one node of the testbed (src/testbed/guest), wired as the agent wires
// it (the node's IP and blocks, its namespace, iptables-legacy), for the programs that drive it with a
// world of their own instead of informers: the NetworkPolicy e2e guest and the datapath bench.
import { join } from "node:path";
import { PolicyEnforcer } from "../../src/agent/policy/enforcer.ts";
import { netnsLocator } from "../../src/agent/policy/netns.ts";
import { backend } from "../../src/iptables/backend.ts";
import type { Testbed } from "../../src/testbed/guest/cluster.ts";
import { inNetns } from "../../src/testbed/guest/netns.ts";
import { SERVICE_CIDR } from "../../src/testbed/guest/services.ts";
import type { NodeRef } from "../../src/verify/driver.ts";

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
