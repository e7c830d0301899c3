// The agent's Prometheus metrics, in their own registry.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { ReconcileReport } from "./reconcile.ts";

export interface AgentMetrics {
  registry: Registry;
  recordSuccess(report: ReconcileReport): void;
  recordError(): void;
}

export function agentMetrics(): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name: `aks_ipvlan_${name}`, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string) =>
    new Gauge({ name: `aks_ipvlan_${name}`, help, registers: [registry] });
  const reconciles = counter("reconciles_total", "Full reconciles of this node, successful or not.");
  const errors = counter("reconcile_errors_total", "Reconciles that failed.");
  const repairs = counter("drift_repairs_total", "Things found wrong on the node and fixed, by kind.", [
    "kind",
  ]);
  const capacity = gauge("block_capacity", "Pod addresses this node's blocks hold.");
  const inUse = gauge("addresses_in_use", "Pod addresses reserved in host-local's data directory.");
  const duration = gauge("last_reconcile_duration_seconds", "Duration of the last reconcile.");
  return {
    registry,
    recordSuccess(report) {
      reconciles.inc();
      for (const repair of report.repairs) repairs.inc({ kind: repair.kind });
      capacity.set(report.addresses.capacity);
      inUse.set(report.addresses.inUse);
      duration.set(report.durationMs / 1000);
    },
    recordError() {
      reconciles.inc();
      errors.inc();
    },
  };
}
