// The controller's Prometheus metrics and the small HTTP server that serves them (/metrics, /healthz).
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ArmCallObserver } from "../azure/arm-client.ts";
import { UserError } from "../errors/user-error.ts";

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly allocations = new Counter({
    name: "aks_ipvlan_controller_block_allocations_total",
    help: "Node blocks written to node annotations.",
    registers: [this.registry],
  });
  readonly releases = new Counter({
    name: "aks_ipvlan_controller_block_releases_total",
    help: "Blocks returned to the pod pool after their grace period.",
    registers: [this.registry],
  });
  readonly freeBlocks = new Gauge({
    name: "aks_ipvlan_controller_free_blocks",
    help: "Blocks of the pod pool not held by any node.",
    registers: [this.registry],
  });
  readonly nodesWithoutBlock = new Gauge({
    name: "aks_ipvlan_controller_nodes_without_block",
    help: "Nodes that could not get a block because the pod pool is exhausted.",
    registers: [this.registry],
  });
  readonly conflicts = new Counter({
    name: "aks_ipvlan_controller_conflicts_total",
    help: "Writes refused with 409 Conflict (another writer got there first), by object.",
    labelNames: ["object"],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "aks_ipvlan_controller_leader",
    help: "1 while this replica holds the leader lease.",
    registers: [this.registry],
  });
  readonly routeChanges = new Counter({
    name: "aks_ipvlan_controller_route_changes_total",
    help: "Route table entries created or updated (put) and deleted (delete).",
    labelNames: ["action"],
    registers: [this.registry],
  });
  readonly azureCalls = new Counter({
    name: "aks_ipvlan_controller_azure_calls_total",
    help: "Azure Resource Manager calls, by operation.",
    labelNames: ["operation"],
    registers: [this.registry],
  });
  readonly azureErrors = new Counter({
    name: "aks_ipvlan_controller_azure_errors_total",
    help: "Azure Resource Manager calls that failed, by operation.",
    labelNames: ["operation"],
    registers: [this.registry],
  });
  readonly azureLatency = new Histogram({
    name: "aks_ipvlan_controller_azure_call_duration_seconds",
    help: "Duration of Azure Resource Manager calls including long-running operation polling.",
    labelNames: ["operation"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly observeArm: ArmCallObserver = (operation, seconds, failed) => {
    this.azureCalls.inc({ operation });
    if (failed) this.azureErrors.inc({ operation });
    this.azureLatency.observe({ operation }, seconds);
  };
}

/** Serves /metrics and /healthz on "host:port"; resolves once listening. */
export async function serveMetrics(metrics: ControllerMetrics, listen: string): Promise<Server> {
  const match = /^(.*):(\d+)$/.exec(listen);
  if (!match) {
    throw new UserError([
      { path: "--listen", value: listen, message: "not host:port", fix: "e.g. 127.0.0.1:9465" },
    ]);
  }
  const server = createServer((request, response) => {
    if (request.url === "/metrics") {
      void metrics.registry.metrics().then((text) => {
        response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text);
      });
    } else if (request.url === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(match[2]), match[1]!.replace(/^\[|\]$/g, ""), resolve);
  });
  return server;
}
