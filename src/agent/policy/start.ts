// Starts NetworkPolicy enforcement beside the node reconcile when the spec enables it, and keeps it
// in step with the node. It needs the Kubernetes API (policies, namespaces and pods are watched), so
// it runs only with --kube, and reads through the agent's own light client (the cluster view's),
// never @kubernetes/client-node (issue 13). It also needs the node's blocks (which destinations are the
// node's own pods decides where egress is judged): a node that joins after install has none yet, so
// the loop starts at the first reconcile that finds one, follows every later change of the blocks (a
// second block), and a start that fails is retried with a capped backoff. `state()` says whether
// policy is in force, for /status and /readyz.
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { MetricsRegistry } from "../../sys/metrics.ts";
import type { Backoff } from "../../sys/coalesce.ts";
import type { ClusterSpec } from "../../spec/schema.ts";
import type { AgentContext } from "../context.ts";
import type { EnforcedNode } from "./enforcer.ts";
import { policyMetrics } from "./metrics.ts";
import { netnsLocator } from "./netns.ts";
import { startPolicyLoop, type PolicyLoop } from "./watch.ts";

export interface PolicyState {
  enforced: boolean;
  /** Why not, while not enforced. */
  reason?: string;
}

export interface PolicyEnforcement {
  /** After each node reconcile: the node's IP and blocks, or why it has none yet. */
  follow(node: EnforcedNode | { waiting: string }): void;
  state(): PolicyState;
  stop(): Promise<void>;
}

/** The retry timer, injected so that tests fire it instead of waiting. */
export interface Timers {
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: Timers = {
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const START_BACKOFF: Backoff = { firstMs: 1_000, maxMs: 60_000 };

/**
 * The loop's life on this node: waiting for a block, started (throws when it cannot start), retried.
 * `start` makes the policy loop for the node as it is now.
 */
export function policyEnforcement(options: {
  start: (node: EnforcedNode) => PolicyLoop;
  log: Logger;
  timers?: Timers;
  backoff?: Backoff;
}): PolicyEnforcement {
  const timers = options.timers ?? REAL_TIMERS;
  const backoff = options.backoff ?? START_BACKOFF;
  let node: EnforcedNode | undefined;
  let waiting = "waiting for the node's first reconcile";
  let loop: PolicyLoop | undefined;
  let startError: string | undefined;
  let retry: unknown;
  let delayMs = backoff.firstMs;
  let stopped = false;

  const start = () => {
    if (stopped || loop || retry !== undefined || !node) return;
    try {
      loop = options.start(node);
      startError = undefined;
      delayMs = backoff.firstMs;
      options.log.info({ blocks: node.podCIDRs }, "NetworkPolicy enforcement started");
    } catch (error) {
      startError = (error as Error).message;
      options.log.error(
        { err: error, retryMs: delayMs },
        "NetworkPolicy enforcement did not start; retrying",
      );
      retry = timers.setTimeout(() => {
        retry = undefined;
        start();
      }, delayMs);
      delayMs = Math.min(delayMs * 2, backoff.maxMs);
    }
  };

  return {
    follow(next) {
      if ("waiting" in next) {
        // A node that loses its blocks keeps the rules it had; the reconcile says what is wrong.
        waiting = next.waiting;
        return;
      }
      node = next;
      if (loop) loop.follow(next);
      else start();
    },
    state() {
      if (loop) {
        const error = loop.error();
        if (error) return { enforced: false, reason: `NetworkPolicy sync failing: ${error}` };
        if (!loop.last()) return { enforced: false, reason: "NetworkPolicy starting: first sync not done" };
        return { enforced: true };
      }
      if (startError)
        return { enforced: false, reason: `NetworkPolicy did not start (retrying): ${startError}` };
      return { enforced: false, reason: `NetworkPolicy not started: ${waiting}` };
    },
    async stop() {
      stopped = true;
      if (retry !== undefined) timers.clearTimeout(retry);
      await loop?.stop();
    },
  };
}

/** The agent's enforcement from its context and spec; undefined (with a warning) without --kube. */
export function startPolicy(
  context: AgentContext,
  spec: ClusterSpec,
  registry: MetricsRegistry,
  log: Logger,
): PolicyEnforcement | undefined {
  if (!spec.agent.policy.enabled) return undefined;
  const cluster = context.cluster;
  if (!cluster) {
    log.warn("agent.policy.enabled is set but the agent runs without --kube: NetworkPolicy is not enforced");
    return undefined;
  }
  const metrics = policyMetrics(registry);
  const policyLog = log.child({ component: "policy" });
  return policyEnforcement({
    log: policyLog,
    start: (node) =>
      startPolicyLoop(cluster.api, {
        node: context.options.node,
        ...node,
        serviceCIDR: spec.serviceCidr,
        podPool: spec.podPool,
        runner: context.runner,
        backend: context.detection.backend,
        locator: netnsLocator(context.runner),
        failClosed: spec.agent.policy.failClosed,
        // Beside the address reservations: tmpfs, the agent's own directory.
        stateDir: join(dirname(context.options.paths.ipamDataDir), "policy"),
        metrics,
        log: policyLog,
        resyncMs: spec.agent.resyncSeconds * 1000,
      }),
  });
}
