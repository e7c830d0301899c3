// The agent's Prometheus metrics: six series of its own in a registry that NetworkPolicy enforcement
// adds its series to, served on /metrics with the process's own.
import { MetricsRegistry } from "../sys/metrics.ts";
import type { ReconcileReport } from "./reconcile.ts";

export interface AgentMetrics {
  /** Where other parts of the agent (NetworkPolicy enforcement) define their series. */
  registry: MetricsRegistry;
  recordSuccess(report: ReconcileReport): void;
  recordError(): void;
}

export function agentMetrics(): AgentMetrics {
  const registry = new MetricsRegistry("aks_ipvlan_");
  const reconciles = registry.define(
    "reconciles_total",
    "Full reconciles of this node, successful or not.",
    "counter",
  );
  const errors = registry.define("reconcile_errors_total", "Reconciles that failed.", "counter");
  const repairs = registry.define(
    "drift_repairs_total",
    "Things found wrong on the node and fixed, by kind (overlay kinds count entries).",
    "counter",
  );
  const capacity = registry.define("block_capacity", "Pod addresses this node's blocks hold.", "gauge");
  const inUse = registry.define(
    "addresses_in_use",
    "Pod addresses reserved in host-local's data directory.",
    "gauge",
  );
  const duration = registry.define(
    "last_reconcile_duration_seconds",
    "Duration of the last reconcile.",
    "gauge",
  );
  reconciles.add(0);
  errors.add(0);
  return {
    registry,
    recordSuccess(report) {
      reconciles.add();
      for (const repair of report.repairs) repairs.add(repair.count ?? 1, { kind: repair.kind });
      capacity.set(report.addresses.capacity);
      inUse.set(report.addresses.inUse);
      duration.set(report.durationMs / 1000);
    },
    recordError() {
      reconciles.add();
      errors.add();
    },
  };
}
