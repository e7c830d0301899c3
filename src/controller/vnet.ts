// routing.mode vnet, the cloud side: every block routed in the Azure route table to its node (the
// routes beyond routing.routeTableLimit left out and reported, the ones the table has kept), and each
// node's NIC checked for the IP forwarding that lets Azure deliver pod traffic to it.
import type { ClusterSpec } from "../spec/schema.ts";
import type { Logger } from "pino";
import { networkClient } from "../azure/arm-client.ts";
import { ArmRouteTable } from "../azure/route-table.ts";
import { NicChecker } from "../azure/nics.ts";
import { azCommands, formatCommands } from "../azure/az-commands.ts";
import { desiredRoutes, routeName, type RouteEntry } from "../routes/routes.ts";
import { routeChanges } from "../routes/diff.ts";
import { type RouteTable, syncRoutes } from "../routes/sync.ts";
import { UserError } from "../errors/user-error.ts";
import type { ControllerMetrics } from "./metrics.ts";
import type { EventRecorder } from "./events.ts";
import { Reports } from "./reports.ts";
import type { LiveNode, NodesView, RoutingContext, RoutingSyncer } from "./routing.ts";

export interface VnetOptions {
  spec: ClusterSpec;
  log: Logger;
  metrics: ControllerMetrics;
  record: EventRecorder;
  /** Unset: routes are not managed (the spec names no route table). */
  routeTable?: RouteTable;
  nics?: NicChecker;
  /** Turn IP forwarding on for standalone VM NICs that lack it. */
  enableIpForwarding?: boolean;
}

/** The Azure clients for the spec's route table, made only when it names one. */
export function vnetRouting(context: RoutingContext): VnetRouting {
  const { spec, arm, metrics, log } = context;
  const table = spec.controller.routeTable;
  if (!table) {
    log.warn("spec.controller.routeTable is not set: blocks are allocated, routes are not managed");
    return new VnetRouting(context);
  }
  const options = {
    observe: metrics.observeArm,
    ...(arm?.pollIntervalMs === undefined ? {} : { pollIntervalMs: arm.pollIntervalMs }),
  };
  return new VnetRouting({
    ...context,
    routeTable: new ArmRouteTable(networkClient(table.subscriptionId, arm), table, options),
    nics: new NicChecker((subscription) => networkClient(subscription, arm), options),
  });
}

export class VnetRouting implements RoutingSyncer {
  private readonly options: VnetOptions;
  private readonly spec: ClusterSpec;
  private readonly reports: Reports;
  /** Route name → the node it routes to, so a route deleted later is told on that node. */
  private routeOwners = new Map<string, string>();
  /** Nodes whose NIC was checked since the last full sync. */
  private readonly nicChecked = new Set<string>();

  constructor(options: VnetOptions) {
    this.options = options;
    this.spec = options.spec;
    this.reports = new Reports(options.log, options.record);
  }

  async sync(view: NodesView, full: boolean): Promise<void> {
    // Every NIC again at a resync: IP forwarding can be turned off (or a NIC replaced) at any time.
    if (full) this.nicChecked.clear();
    const live = new Set(view.live.map((node) => node.name));
    for (const name of this.nicChecked) if (!live.has(name)) this.nicChecked.delete(name);
    this.reports.keepOnly(live);
    if (this.options.routeTable) await this.syncRouteTable(this.options.routeTable, view);
    if (this.options.nics) await this.checkNics(this.options.nics, view.live);
  }

  async plan(view: NodesView): Promise<string[]> {
    const table = this.spec.controller.routeTable;
    if (!table || !this.options.routeTable) {
      throw new UserError([
        {
          path: "controller.routeTable",
          message: "not set: a dry run shows route table changes and needs the table",
          fix: "add controller.routeTable {subscriptionId, resourceGroup, name} to the spec",
        },
      ]);
    }
    const limit = this.spec.routing.routeTableLimit;
    const desired = desiredRoutes(this.spec, view.routed);
    const changes = routeChanges(this.spec.name, desired, await this.options.routeTable.list(), limit);
    const commands = formatCommands(azCommands(table, changes));
    return [
      ...changes.unrouted.map(
        (route) =>
          `# no room for route ${route.name} (${route.addressPrefix} via ${route.nextHopIpAddress}): the table is full (routing.routeTableLimit ${limit})`,
      ),
      commands || "# the route table is up to date",
    ];
  }

  private async syncRouteTable(table: RouteTable, view: NodesView): Promise<void> {
    const { metrics, log, record } = this.options;
    const desired = desiredRoutes(this.spec, view.routed);
    const owners = new Map(
      view.routed.flatMap((node) =>
        node.blocks.map((block) => [routeName(this.spec.name, block), node.name]),
      ),
    );
    try {
      const changes = await syncRoutes(table, this.spec.name, desired, this.spec.routing.routeTableLimit);
      metrics.routeChanges.add(changes.put.length, { action: "put" });
      metrics.routeChanges.add(changes.remove.length, { action: "delete" });
      for (const route of changes.put) {
        log.info(
          { route: route.name, block: route.addressPrefix, via: route.nextHopIpAddress },
          "route created",
        );
        const owner = owners.get(route.name);
        if (!owner) continue;
        this.reports.forget(owner, "RouteTableFull");
        record(
          owner,
          "Normal",
          "RouteCreated",
          `route ${route.name}: ${route.addressPrefix} via ${route.nextHopIpAddress}`,
        );
      }
      for (const name of changes.remove) {
        log.info({ route: name }, "route deleted");
        const owner = this.routeOwners.get(name);
        if (owner) record(owner, "Normal", "RouteDeleted", `route ${name} deleted`);
      }
      this.reportUnrouted(changes.unrouted, owners);
      // Every route not desired is gone now: only the desired ones' owners are worth keeping.
      for (const name of this.routeOwners.keys()) if (!owners.has(name)) this.routeOwners.delete(name);
    } finally {
      for (const [name, owner] of owners) this.routeOwners.set(name, owner);
    }
  }

  /** A full table: said once for the cluster, and once on each node whose block has no route. */
  private reportUnrouted(unrouted: readonly RouteEntry[], owners: ReadonlyMap<string, string>): void {
    this.options.metrics.unroutedBlocks.set(unrouted.length);
    if (unrouted.length === 0) {
      this.reports.forget(undefined, "RouteTableFull");
      return;
    }
    const limit = this.spec.routing.routeTableLimit;
    const full = `the Azure route table is full (routing.routeTableLimit ${limit})`;
    const way =
      "raise routing.routeTableLimit if Azure allows more routes, or use routing.mode vxlan, which needs no route table";
    this.reports.warnOnce(
      undefined,
      "RouteTableFull",
      `${full}: blocks beyond it get no route and their nodes' pods are unreachable from other nodes; ${way}`,
    );
    for (const route of unrouted) {
      const owner = owners.get(route.name);
      if (!owner) continue;
      this.reports.warnOnce(
        owner,
        "RouteTableFull",
        `no route for node block ${route.addressPrefix}: ${full}, so pods on other nodes cannot reach this node's pods; ${way}`,
      );
    }
  }

  private async checkNics(nics: NicChecker, live: readonly LiveNode[]): Promise<void> {
    const unchecked = live.flatMap((node) =>
      node.ip && !this.nicChecked.has(node.name)
        ? [{ name: node.name, ip: node.ip, ...(node.providerID ? { providerID: node.providerID } : {}) }]
        : [],
    );
    if (unchecked.length === 0) return;
    const results = await nics.checkAll(unchecked, this.options.enableIpForwarding ?? false);
    for (const [name, finding] of results) {
      this.nicChecked.add(name);
      // Fixed since: a later problem is news again.
      if (!finding || finding.state === "enabled") this.reports.forget(name, "IPForwardingOff");
      if (finding?.state === "enabled") {
        this.options.log.info({ node: name, nic: finding.nic }, finding.message);
        this.options.record(name, "Normal", "IPForwardingEnabled", finding.message);
      } else if (finding) {
        this.reports.warnOnce(name, "IPForwardingOff", `${finding.message}; fix: ${finding.fix}`);
      }
    }
  }
}
