// The policy enforcer's Prometheus metrics, defined in the agent's registry beside its own.
import type { MetricsRegistry } from "../../sys/metrics.ts";
import type { SyncReport } from "./enforcer.ts";

export interface PolicyMetrics {
  /** `latencyMs`: from the oldest change the sync took in to the end of the sync. */
  record(report: SyncReport, latencyMs: number): void;
  recordError(): void;
}

export function policyMetrics(registry: MetricsRegistry): PolicyMetrics {
  const rules = registry.define(
    "policy_rules_programmed",
    "iptables rules in force in this node's pod namespaces for NetworkPolicy.",
    "gauge",
  );
  const pods = registry.define(
    "policy_pods_enforced",
    "Pods of this node isolated by a NetworkPolicy (ingress or egress) whose rules are in force.",
    "gauge",
  );
  const latency = registry.summary(
    "policy_sync_seconds",
    "From a change of pods, namespaces or policies to its rules in force on this node.",
  );
  const applied = registry.define(
    "policy_pod_updates_total",
    "Pod namespaces whose rules were replaced (one iptables-restore each).",
    "counter",
  );
  const failures = registry.define(
    "policy_errors_total",
    "Pod rule updates or policy syncs that failed (retried at the next change or resync).",
    "counter",
  );
  const enforced = registry.define(
    "policy_enforced",
    "1 while NetworkPolicy is in force on this node (its last sync succeeded), else 0 (no block yet, starting, failing).",
    "gauge",
  );
  enforced.set(0);
  const repairs = registry.define(
    "policy_drift_repairs_total",
    "NetworkPolicy rules the kernel no longer held and the resync put back: pod namespaces, and the node's chains and jumps.",
    "counter",
  );
  failures.add(0);
  applied.add(0);
  repairs.add(0, { where: "pod" });
  repairs.add(0, { where: "node" });
  return {
    record(report, latencyMs) {
      enforced.set(1);
      rules.set(report.rulesProgrammed);
      pods.set(report.enforcedPods);
      latency.observe(latencyMs / 1000);
      applied.add(report.applied.length);
      const failed = report.failed.length + (report.nodeRulesError ? 1 : 0);
      if (failed > 0) failures.add(failed);
      if (report.repairs.pods.length > 0) repairs.add(report.repairs.pods.length, { where: "pod" });
      if (report.repairs.node.length > 0) repairs.add(report.repairs.node.length, { where: "node" });
    },
    recordError() {
      enforced.set(0);
      failures.add();
    },
  };
}
