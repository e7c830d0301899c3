// Starts NetworkPolicy enforcement beside the node reconcile when the spec enables it. It needs the
// Kubernetes API (policies, namespaces and pods are watched), so it runs only with --kube, and reads
// through the agent's own light client (the cluster view's), never @kubernetes/client-node (issue 13).
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { MetricsRegistry } from "../../sys/metrics.ts";
import type { ClusterSpec } from "../../spec/schema.ts";
import type { AgentContext } from "../context.ts";
import { resolveNode } from "../node.ts";
import { netnsLocator } from "./netns.ts";
import { startPolicyLoop, type PolicyLoop } from "./watch.ts";

export async function startPolicy(
  context: AgentContext,
  spec: ClusterSpec,
  registry: MetricsRegistry,
  log: Logger,
): Promise<PolicyLoop | undefined> {
  if (!spec.agent.policy.enabled) return undefined;
  if (!context.cluster) {
    log.warn("agent.policy.enabled is set but the agent runs without --kube: NetworkPolicy is not enforced");
    return undefined;
  }
  const { node } = context.options;
  const resolved = resolveNode(spec, node, await context.cluster.facts());
  // Which destinations are the node's own pods decides where egress is judged: without them, nothing.
  if ("waiting" in resolved) throw new Error(`NetworkPolicy cannot start: ${resolved.waiting}`);
  const { ip: nodeIP, blocks } = resolved.node;
  return startPolicyLoop(context.cluster.api, {
    node,
    nodeIP,
    serviceCIDR: spec.serviceCidr,
    runner: context.runner,
    backend: context.detection.backend,
    locator: netnsLocator(context.runner),
    podCIDRs: blocks.map((block) => block.cidr),
    failClosed: spec.agent.policy.failClosed,
    // Beside the address reservations: tmpfs, the agent's own directory.
    stateDir: join(dirname(context.options.paths.ipamDataDir), "policy"),
    registry,
    log: log.child({ component: "policy" }),
    resyncMs: spec.agent.resyncSeconds * 1000,
  });
}
