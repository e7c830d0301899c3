// The controller's Prometheus metrics and the HTTP server that serves them (/metrics, /healthz).
import type { Server } from "node:http";
import type { ArmCallObserver } from "../azure/arm-client.ts";
import { listenHttp } from "../sys/http-listener.ts";
import { MetricsRegistry } from "../sys/metrics.ts";

export class ControllerMetrics {
  readonly registry = new MetricsRegistry("aks_ipvlan_controller_");
  readonly allocations = this.registry.define(
    "block_allocations_total",
    "Node blocks written to node annotations.",
    "counter",
  );
  readonly releases = this.registry.define(
    "block_releases_total",
    "Blocks returned to the pod pool after their grace period.",
    "counter",
  );
  readonly freeBlocks = this.registry.define(
    "free_blocks",
    "Blocks of the pod pool not held by any node.",
    "gauge",
  );
  readonly nodesWithoutBlock = this.registry.define(
    "nodes_without_block",
    "Nodes that could not get a block because the pod pool is exhausted.",
    "gauge",
  );
  /** Labelled by `object`. */
  readonly conflicts = this.registry.define(
    "conflicts_total",
    "Writes refused with 409 Conflict (another writer got there first), by object.",
    "counter",
  );
  readonly leader = this.registry.define("leader", "1 while this replica holds the leader lease.", "gauge");
  /** Labelled by `action`. */
  readonly routeChanges = this.registry.define(
    "route_changes_total",
    "Route table entries created or updated (put) and deleted (delete).",
    "counter",
  );
  readonly unroutedBlocks = this.registry.define(
    "unrouted_blocks",
    "Blocks without a route because the route table is full (routing.routeTableLimit; vnet mode).",
    "gauge",
  );
  private readonly azureCalls = this.registry.define(
    "azure_calls_total",
    "Azure Resource Manager calls, by operation.",
    "counter",
  );
  private readonly azureErrors = this.registry.define(
    "azure_errors_total",
    "Azure Resource Manager calls that failed, by operation.",
    "counter",
  );
  private readonly azureLatency = this.registry.histogram(
    "azure_call_duration_seconds",
    "Duration of Azure Resource Manager calls including long-running operation polling.",
    [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  );

  constructor() {
    // Unlabelled series read 0 from the start, so a dashboard sees the controller before its first event.
    for (const series of [
      this.allocations,
      this.releases,
      this.freeBlocks,
      this.nodesWithoutBlock,
      this.leader,
    ])
      series.add(0);
  }

  readonly observeArm: ArmCallObserver = (operation, seconds, failed) => {
    this.azureCalls.add(1, { operation });
    if (failed) this.azureErrors.add(1, { operation });
    this.azureLatency.observe(seconds, { operation });
  };
}

/** Serves /metrics and /healthz on "host:port"; resolves once listening. */
export function serveMetrics(metrics: ControllerMetrics, listen: string): Promise<Server> {
  const { registry } = metrics;
  return listenHttp(listen, { "/metrics": () => ({ type: registry.contentType, body: registry.text() }) });
}
