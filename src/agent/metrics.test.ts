import { describe, expect, it } from "vitest";
import { agentMetrics } from "./metrics.ts";
import type { ReconcileReport } from "./reconcile.ts";

const report = (kinds: string[]) =>
  ({
    repairs: kinds.map((kind) => ({ kind, detail: "" })),
    addresses: { capacity: 16, inUse: 3 },
    durationMs: 250,
  }) as unknown as ReconcileReport;

describe("agent metrics", () => {
  it("writes the text exposition format: HELP and TYPE before each series, labels quoted", () => {
    const metrics = agentMetrics();
    metrics.recordSuccess(report(["sysctl", "chain-missing", "chain-missing"]));
    metrics.recordError();
    const text = metrics.registry.text();
    expect(text).toMatch(
      /^# HELP aks_ipvlan_reconciles_total .+\n# TYPE aks_ipvlan_reconciles_total counter\naks_ipvlan_reconciles_total 2$/m,
    );
    expect(text).toMatch(/^aks_ipvlan_reconcile_errors_total 1$/m);
    expect(text).toMatch(/^aks_ipvlan_drift_repairs_total\{kind="chain-missing"\} 2$/m);
    expect(text).toMatch(/^aks_ipvlan_drift_repairs_total\{kind="sysctl"\} 1$/m);
    expect(text).toMatch(/^aks_ipvlan_block_capacity 16$/m);
    expect(text).toMatch(/^aks_ipvlan_last_reconcile_duration_seconds 0.25$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    for (const line of text.trimEnd().split("\n")) {
      expect(line).toMatch(/^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"\})? [0-9.e+-]+)$/);
    }
  });

  it("counts zero reconciles before the first, and no gauge it has no value for", () => {
    const text = agentMetrics().registry.text();
    expect(text).toMatch(/^aks_ipvlan_reconciles_total 0$/m);
    expect(text).not.toMatch(/^aks_ipvlan_block_capacity /m);
  });
});
