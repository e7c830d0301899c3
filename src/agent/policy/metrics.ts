// The policy enforcer's Prometheus metrics, registered in the agent's registry beside its own.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { SyncReport } from "./enforcer.ts";

export interface PolicyMetrics {
  /** `latencyMs`: from the oldest change the sync took in to the end of the sync. */
  record(report: SyncReport, latencyMs: number): void;
  recordError(): void;
}

export function policyMetrics(registry: Registry): PolicyMetrics {
  const registers = [registry];
  const rules = new Gauge({
    name: "aks_ipvlan_policy_rules_programmed",
    help: "iptables rules in force in this node's pod namespaces for NetworkPolicy.",
    registers,
  });
  const pods = new Gauge({
    name: "aks_ipvlan_policy_pods_enforced",
    help: "Pods of this node isolated by a NetworkPolicy (ingress or egress) whose rules are in force.",
    registers,
  });
  const latency = new Histogram({
    name: "aks_ipvlan_policy_sync_seconds",
    help: "From a change of pods, namespaces or policies to its rules in force on this node.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const applied = new Counter({
    name: "aks_ipvlan_policy_pod_updates_total",
    help: "Pod namespaces whose rules were replaced (one iptables-restore each).",
    registers,
  });
  const failures = new Counter({
    name: "aks_ipvlan_policy_errors_total",
    help: "Pod rule updates or policy syncs that failed (retried at the next change or resync).",
    registers,
  });
  return {
    record(report, latencyMs) {
      rules.set(report.rulesProgrammed);
      pods.set(report.enforcedPods);
      latency.observe(latencyMs / 1000);
      applied.inc(report.applied.length);
      const failed = report.failed.length + (report.nodeRulesError ? 1 : 0);
      if (failed > 0) failures.inc(failed);
    },
    recordError: () => failures.inc(),
  };
}
