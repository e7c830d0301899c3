// Starts NetworkPolicy enforcement beside the node reconcile when the spec enables it. It needs the
// Kubernetes API (policies, namespaces and pods are watched), so it runs only with --kube.
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { MetricsRegistry } from "../../sys/metrics.ts";
import type { ClusterSpec } from "../../spec/schema.ts";
import type { AgentContext } from "../context.ts";
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
  const nodeIP =
    spec.nodes.find((entry) => entry.name === node)?.ip ?? (await context.cluster.facts()).internalIp;
  if (!nodeIP)
    throw new Error(`node ${node} has no InternalIP: cannot tell its own traffic (kubelet probes) apart`);
  const [{ connect }, { loadKubeConfig }] = await Promise.all([
    import("../../kube/client.ts"),
    import("../../kube/config.ts"),
  ]);
  return startPolicyLoop(connect(loadKubeConfig()), {
    node,
    nodeIP,
    serviceCIDR: spec.serviceCidr,
    runner: context.runner,
    backend: context.detection.backend,
    locator: netnsLocator(context.runner),
    // Beside the address reservations: tmpfs, the agent's own directory.
    stateDir: join(dirname(context.options.paths.ipamDataDir), "policy"),
    registry,
    log: log.child({ component: "policy" }),
    resyncMs: spec.agent.resyncSeconds * 1000,
  });
}
