import { describe, expect, it } from "vitest";
import { ControllerMetrics } from "./metrics.ts";

describe("controller metrics", () => {
  it("keeps the series names dashboards use, unlabelled ones at 0 from the start", () => {
    const metrics = new ControllerMetrics();
    metrics.observeArm("routes.createOrUpdate", 0.2, false);
    metrics.observeArm("routes.delete", 3, true);
    const text = metrics.registry.text();
    const families = [...text.matchAll(/^# TYPE (aks_ipvlan_\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(families).toEqual([
      "aks_ipvlan_controller_block_allocations_total counter",
      "aks_ipvlan_controller_block_releases_total counter",
      "aks_ipvlan_controller_free_blocks gauge",
      "aks_ipvlan_controller_nodes_without_block gauge",
      "aks_ipvlan_controller_conflicts_total counter",
      "aks_ipvlan_controller_leader gauge",
      "aks_ipvlan_controller_route_changes_total counter",
      "aks_ipvlan_controller_unrouted_blocks gauge",
      "aks_ipvlan_controller_azure_calls_total counter",
      "aks_ipvlan_controller_azure_errors_total counter",
      "aks_ipvlan_controller_azure_call_duration_seconds histogram",
    ]);
    expect(text).toMatch(/^aks_ipvlan_controller_block_allocations_total 0$/m);
    expect(text).toMatch(/^aks_ipvlan_controller_leader 0$/m);
    expect(text).toMatch(/^aks_ipvlan_controller_azure_calls_total\{operation="routes.delete"\} 1$/m);
    expect(text).toMatch(/^aks_ipvlan_controller_azure_errors_total\{operation="routes.delete"\} 1$/m);
    expect(text).not.toMatch(
      /^aks_ipvlan_controller_azure_errors_total\{operation="routes.createOrUpdate"\}/m,
    );
    expect(text).toMatch(
      /^aks_ipvlan_controller_azure_call_duration_seconds_bucket\{operation="routes.delete",le="2.5"\} 0$/m,
    );
    expect(text).toMatch(
      /^aks_ipvlan_controller_azure_call_duration_seconds_bucket\{operation="routes.delete",le="5"\} 1$/m,
    );
  });
});
