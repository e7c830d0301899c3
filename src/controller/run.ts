// Wires the controller: leader election decides when this replica runs the block controller, and the
// spec's routing mode which syncer keeps the cloud side. A mode's module loads only when chosen: in
// vxlan mode no Azure module is loaded, no Azure client made and no credential looked for.
import { type Logger, pino } from "pino";
import type { ClusterSpec } from "../spec/schema.ts";
import type { KubeApi } from "../kube/client.ts";
import type { ArmOptions } from "../azure/arm-client.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../ipam/annotation.ts";
import { BlockController, type ControllerOptions } from "./controller.ts";
import { LEASE_NAME, LEDGER_NAME, NAMESPACE } from "../manifests/names.ts";
import { LeaderElector, type LeaseTimings } from "./leader.ts";
import { ControllerMetrics } from "./metrics.ts";
import { nodeEventRecorder } from "./events.ts";
import { assignBlocks } from "../ipam/assign.ts";
import { parseLedger } from "./ledger.ts";
import { liveNode, type RoutingContext, type RoutingSyncer } from "./routing.ts";

/** Each routing mode's syncer: a new mode is its file and its line here. */
const ROUTING: Record<ClusterSpec["routing"]["mode"], (context: RoutingContext) => Promise<RoutingSyncer>> = {
  vnet: async (context) => (await import("./vnet.ts")).vnetRouting(context),
  vxlan: async () => new (await import("./vxlan.ts")).VxlanRouting(),
};

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
  const routing = await ROUTING[spec.routing.mode]({
    spec,
    log,
    metrics,
    record,
    ...(options.arm ? { arm: options.arm } : {}),
    enableIpForwarding: options.enableIpForwarding ?? spec.controller.enableIpForwarding,
  });
  log.info({ mode: spec.routing.mode }, "routing mode");
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
          routing,
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

/**
 * `--dry-run`: reads the nodes, the ledger and the routing mode's cloud side, and returns what the
 * controller would do as text: the node annotations it would write (as comments) and the mode's
 * changes (vnet: the equivalent `az` commands for the route table). Writes nothing anywhere.
 */
export async function dryRun(
  spec: ClusterSpec,
  api: KubeApi,
  arm: ArmOptions = {},
  namespace = NAMESPACE,
): Promise<string> {
  const metrics = new ControllerMetrics();
  const log = pino({ level: "silent" });
  const routing = await ROUTING[spec.routing.mode]({ spec, log, metrics, record: () => undefined, arm });
  const nodes = (await api.list("v1", "Node")).items;
  const ledger = await api.get({ apiVersion: "v1", kind: "ConfigMap", name: LEDGER_NAME, namespace });
  const live = nodes.map(liveNode);
  const assignment = assignBlocks(spec, {
    ledger: parseLedger(ledger?.data as Record<string, string> | undefined),
    nodes: nodes.map((node, index) => ({
      ...live[index]!,
      blocks: parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]),
    })),
    due: new Set(),
  });
  const routed = live.flatMap(({ name, ip }) =>
    ip ? [{ name, ip, blocks: assignment.blocksOf.get(name) ?? [] }] : [],
  );
  const lines = [
    ...assignment.annotations.map(
      (change) => `# would annotate node ${change.node}: ${BLOCKS_ANNOTATION}=${change.blocks.join(",")}`,
    ),
    ...assignment.exhausted.map((node) => `# node ${node}: the pod pool is exhausted, no block`),
    ...(await routing.plan({ routed, live })),
  ];
  return lines.join("\n") + "\n";
}
