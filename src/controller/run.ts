// Wires the controller: leader election decides when this replica runs the block controller; the
// Azure clients are made only when the spec names a route table.
import type { Logger } from "pino";
import type { ClusterSpec } from "../spec/schema.ts";
import type { KubeApi } from "../kube/client.ts";
import { type ArmOptions, networkClient } from "../azure/arm-client.ts";
import { ArmRouteTable } from "../azure/route-table.ts";
import { NicChecker } from "../azure/nics.ts";
import { routeChanges } from "../routes/diff.ts";
import { azCommands, formatCommands } from "../azure/az-commands.ts";
import { UserError } from "../errors/user-error.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../ipam/annotation.ts";
import { BlockController, internalIp, type ControllerOptions } from "./controller.ts";
import { LEASE_NAME, LEDGER_NAME, NAMESPACE } from "../manifests/names.ts";
import { LeaderElector, type LeaseTimings } from "./leader.ts";
import { ControllerMetrics } from "./metrics.ts";
import { nodeEventRecorder } from "./events.ts";
import { assignBlocks } from "../ipam/assign.ts";
import { parseLedger } from "./ledger.ts";
import { desiredRoutes } from "../routes/routes.ts";

export interface RunOptions {
  spec: ClusterSpec;
  api: KubeApi;
  log: Logger;
  metrics?: ControllerMetrics;
  /** This replica's name in the lease (the pod name in a cluster). */
  identity: string;
  namespace?: string;
  arm?: ArmOptions;
  enableIpForwarding?: boolean;
  timings?: LeaseTimings;
  /** Test knobs passed to the block controller (grace period, resync intervals). */
  tuning?: Pick<ControllerOptions, "releaseGraceMs" | "resyncMs" | "podResyncMs" | "writeConcurrency">;
}

/** Campaigns for the lease and runs the block controller while leading, until `signal` aborts. */
export async function runController(options: RunOptions, signal: AbortSignal): Promise<void> {
  const { spec, api, log } = options;
  const metrics = options.metrics ?? new ControllerMetrics();
  const namespace = options.namespace ?? NAMESPACE;
  const record = nodeEventRecorder(api, options.identity, (error) =>
    log.warn({ err: error }, "event not recorded"),
  );
  const azure = azureParts(spec, options, metrics);
  if (!azure.routeTable)
    log.warn("spec.controller.routeTable is not set: blocks are allocated, routes are not managed");
  let leading: { abort: AbortController; done: Promise<void> } | undefined;
  const elector = new LeaderElector(
    api,
    {
      namespace,
      name: LEASE_NAME,
      identity: options.identity,
      ...(options.timings ? { timings: options.timings } : {}),
    },
    {
      onStartedLeading: () => {
        log.info({ identity: options.identity }, "started leading");
        metrics.leader.set(1);
        const abort = new AbortController();
        const controller = new BlockController({
          spec,
          api,
          metrics,
          log,
          record,
          namespace,
          enableIpForwarding: options.enableIpForwarding ?? spec.controller.enableIpForwarding,
          ...azure,
          ...options.tuning,
        });
        leading = { abort, done: controller.run(abort.signal) };
      },
      onStoppedLeading: () => {
        log.warn({ identity: options.identity }, "stopped leading");
        metrics.leader.set(0);
        leading?.abort.abort();
      },
      onError: (error) => log.error({ err: error }, "leader election failed"),
    },
  );
  await elector.run(signal);
  leading?.abort.abort();
  await leading?.done;
}

function azureParts(
  spec: ClusterSpec,
  options: RunOptions,
  metrics: ControllerMetrics,
): Pick<ControllerOptions, "routeTable" | "nics"> {
  const table = spec.controller.routeTable;
  if (!table) return {};
  const observe = metrics.observeArm;
  const pollIntervalMs = options.arm?.pollIntervalMs;
  const poll = pollIntervalMs === undefined ? {} : { pollIntervalMs };
  return {
    routeTable: new ArmRouteTable(networkClient(table.subscriptionId, options.arm), table, {
      observe,
      ...poll,
    }),
    nics: new NicChecker((subscription) => networkClient(subscription, options.arm), { observe, ...poll }),
  };
}

/**
 * `--dry-run`: reads the nodes, the ledger and the route table, and returns what the controller
 * would do as text: the node annotations it would write (as comments) and the equivalent `az`
 * commands for the route table. Writes nothing anywhere.
 */
export async function dryRun(
  spec: ClusterSpec,
  api: KubeApi,
  arm: ArmOptions = {},
  namespace = NAMESPACE,
): Promise<string> {
  const table = spec.controller.routeTable;
  if (!table) {
    throw new UserError([
      {
        path: "controller.routeTable",
        message: "not set: a dry run shows route table changes and needs the table",
        fix: "add controller.routeTable {subscriptionId, resourceGroup, name} to the spec",
      },
    ]);
  }
  const nodes = (await api.list("v1", "Node")).items;
  const ledger = await api.get({ apiVersion: "v1", kind: "ConfigMap", name: LEDGER_NAME, namespace });
  const assignment = assignBlocks(spec, {
    ledger: parseLedger(ledger?.data as Record<string, string> | undefined),
    nodes: nodes.map((node) => {
      const ip = internalIp(node);
      return {
        name: node.metadata.name,
        blocks: parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]),
        ...(ip ? { ip } : {}),
      };
    }),
    due: new Set(),
  });
  const routed = nodes.flatMap((node) => {
    const ip = internalIp(node);
    const blocks = assignment.blocksOf.get(node.metadata.name) ?? [];
    return ip ? [{ name: node.metadata.name, ip, blocks }] : [];
  });
  const actual = await new ArmRouteTable(networkClient(table.subscriptionId, arm), table).list();
  const changes = routeChanges(spec.name, desiredRoutes(spec, routed), actual);
  const lines = [
    ...assignment.annotations.map(
      (change) => `# would annotate node ${change.node}: ${BLOCKS_ANNOTATION}=${change.blocks.join(",")}`,
    ),
    ...assignment.exhausted.map((node) => `# node ${node}: the pod pool is exhausted, no block`),
  ];
  const commands = formatCommands(azCommands(table, changes));
  return [...lines, commands || "# the route table is up to date"].join("\n") + "\n";
}
