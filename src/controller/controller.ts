// The block controller, run by the leader: keeps every node holding a block (ledger first, then the
// node annotation the agent reads), returns blocks of deleted nodes after the grace period, and keeps
// the Azure route table and the node NICs in line with the blocks.
import type { Logger } from "pino";
import type { ClusterSpec } from "../spec/schema.ts";
import { KubeApiError, type KubeApi, type KubeObject, type ObjectRef } from "../kube/client.ts";
import { BLOCKS_ANNOTATION, formatBlocksAnnotation, parseBlocksAnnotation } from "../ipam/annotation.ts";
import { routeName } from "../routes/routes.ts";
import type { RouteTable } from "../routes/sync.ts";
import type { NicChecker } from "../azure/nics.ts";
import { assignBlocks, type NodeView } from "../ipam/assign.ts";
import { ledgerPatchData, parseLedger } from "./ledger.ts";
import { LEDGER_NAME, NAMESPACE } from "../manifests/names.ts";
import { Informer } from "../kube/informer.ts";
import { modelOf } from "../kube/models.ts";
import { internalIp, providerId } from "../kube/nodes.ts";
import { type Backoff, Coalescer } from "../sys/coalesce.ts";
import { mapBounded } from "../sys/bounded.ts";
import { desiredRoutes, type NodeBlocks } from "../routes/routes.ts";
import { syncRoutes } from "../routes/sync.ts";
import { pause } from "./leader.ts";
import type { ControllerMetrics } from "./metrics.ts";
import type { EventRecorder } from "./events.ts";

export interface ControllerOptions {
  spec: ClusterSpec;
  api: KubeApi;
  metrics: ControllerMetrics;
  log: Logger;
  record: EventRecorder;
  namespace?: string;
  routeTable?: RouteTable;
  nics?: NicChecker;
  enableIpForwarding?: boolean;
  /** Default: spec.controller.releaseGraceSeconds. */
  releaseGraceMs?: number;
  /** How often the allocation pass runs and the route table and NICs are compared with the blocks, even without changes. */
  resyncMs?: number;
  /** How often pods are counted (only when maxBlocksPerNode > 1). */
  podResyncMs?: number;
  /** Node annotation writes in flight at once. */
  writeConcurrency?: number;
  /** How soon a failed allocation pass or route sync runs again, doubling up to the cap. */
  retryBackoff?: Backoff;
}

const RETRY_BACKOFF: Backoff = { firstMs: 500, maxMs: 30_000 };

export class BlockController {
  readonly nodes: Informer;
  private readonly options: ControllerOptions;
  private readonly spec: ClusterSpec;
  private readonly api: KubeApi;
  private readonly log: Logger;
  private readonly ledgerRef: ObjectRef;
  private readonly graceMs: number;
  private readonly passes: Coalescer;
  private readonly routes: Coalescer;
  private ledger = new Map<string, string>();
  private ledgerVersion: string | undefined;
  private readonly unusedSince = new Map<string, number>();
  private readonly lastIp = new Map<string, string>();
  private readonly podCounts = new Map<string, number>();
  /** Problems reported once, by node (key "" for the cluster): forgotten with the node. */
  private readonly reported = new Map<string, Set<string>>();
  /** Nodes whose NIC was checked since the last resync. */
  private readonly nicChecked = new Set<string>();
  private blocksOf = new Map<string, string[]>();
  private routeOwners = new Map<string, string>();
  private synced = false;
  private releaseTimer: NodeJS.Timeout | undefined;

  constructor(options: ControllerOptions) {
    this.options = options;
    this.spec = options.spec;
    this.api = options.api;
    this.log = options.log;
    this.graceMs = options.releaseGraceMs ?? options.spec.controller.releaseGraceSeconds * 1000;
    this.ledgerRef = {
      apiVersion: "v1",
      kind: "ConfigMap",
      name: LEDGER_NAME,
      namespace: options.namespace ?? NAMESPACE,
    };
    const onError = (what: string) => (error: unknown) => this.log.error({ err: error }, what);
    const backoff = options.retryBackoff ?? RETRY_BACKOFF;
    this.passes = new Coalescer(() => this.pass(), onError("allocation pass failed"), backoff);
    this.routes = new Coalescer(() => this.syncAzure(), onError("route table sync failed"), backoff);
    this.nodes = new Informer(options.api, "v1", "Node", {
      onEvent: (type, node) => {
        const ip = internalIp(node);
        if (ip) this.lastIp.set(node.metadata.name, ip);
        if (type === "DELETED") this.log.info({ node: node.metadata.name }, "node deleted");
        this.passes.kick();
      },
      onSynced: () => {
        this.synced = true;
        this.passes.kick();
      },
      onError: onError("node watch failed"),
    });
  }

  /** Runs until `signal` aborts, then waits for the writes in flight. */
  async run(signal: AbortSignal): Promise<void> {
    const loops = [this.nodes.run(signal), this.resync(signal)];
    if (this.spec.maxBlocksPerNode > 1) loops.push(this.countPods(signal));
    await Promise.all(loops);
    clearTimeout(this.releaseTimer);
    await this.passes.stop();
    await this.routes.stop();
  }

  private async resync(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await pause(this.options.resyncMs ?? 60_000, signal);
      // Every NIC again: IP forwarding can be turned off (or a NIC replaced) at any time.
      this.nicChecked.clear();
      // The allocation pass too: it is what a missed or failed pass is caught up by at the latest.
      this.passes.kickNow();
      this.routes.kickNow();
    }
  }

  private async countPods(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const pods = await this.api.list("v1", "Pod");
        this.podCounts.clear();
        for (const pod of pods.items) {
          const { spec, status } = modelOf("v1/Pod", pod);
          const phase = status?.phase;
          if (!spec?.nodeName || spec.hostNetwork || phase === "Succeeded" || phase === "Failed") continue;
          this.podCounts.set(spec.nodeName, (this.podCounts.get(spec.nodeName) ?? 0) + 1);
        }
        this.passes.kick();
      } catch (error) {
        this.log.error({ err: error }, "counting pods failed");
      }
      await pause(this.options.podResyncMs ?? 30_000, signal);
    }
  }

  private async pass(): Promise<void> {
    if (!this.synced) return;
    if (this.ledgerVersion === undefined) await this.loadLedger();
    const now = Date.now();
    const due = new Set<string>();
    for (const [block, since] of this.unusedSince) if (now - since >= this.graceMs) due.add(block);
    const views = [...this.nodes.objects.values()].map((node) => this.view(node));
    const assignment = assignBlocks(this.spec, { ledger: this.ledger, nodes: views, due });

    const unused = new Set(assignment.unused);
    for (const block of unused) if (!this.unusedSince.has(block)) this.unusedSince.set(block, now);
    for (const block of [...this.unusedSince.keys()]) if (!unused.has(block)) this.unusedSince.delete(block);

    if (assignment.claims.size > 0 || assignment.releases.length > 0) {
      if (!(await this.writeLedger(assignment.claims, assignment.releases))) {
        this.passes.kick(); // someone else wrote the ledger: plan again on what it holds now
        return;
      }
      this.options.metrics.releases.add(assignment.releases.length);
      for (const block of assignment.releases) this.log.info({ block }, "block returned to the pod pool");
    }
    await mapBounded(assignment.annotations, this.options.writeConcurrency ?? 16, (change) =>
      this.annotate(change.node, change.blocks),
    );

    for (const warning of assignment.warnings)
      this.warnOnce(warning.node, "BlockConflict", `${warning.block}: ${warning.message}`);
    for (const node of assignment.exhausted) {
      this.warnOnce(
        node,
        "PodPoolExhausted",
        `no free /${this.spec.blockSize} block in the pod pool for this node`,
      );
    }
    this.options.metrics.nodesWithoutBlock.set(assignment.exhausted.length);
    this.options.metrics.freeBlocks.set(assignment.freeBlocks);
    this.blocksOf = assignment.blocksOf;
    this.forgetGoneNodes();
    this.scheduleRelease(now);
    this.routes.kick();
  }

  /**
   * Keeps what is known per node bounded by the nodes there are: a deleted node is forgotten once its
   * blocks left the ledger (its routes need its last IP until then).
   */
  private forgetGoneNodes(): void {
    const live = new Set(this.nodes.objects.keys());
    const owners = new Set(this.ledger.values());
    for (const name of this.lastIp.keys()) if (!live.has(name) && !owners.has(name)) this.lastIp.delete(name);
    for (const name of this.nicChecked) if (!live.has(name)) this.nicChecked.delete(name);
    for (const name of this.reported.keys()) if (name && !live.has(name)) this.reported.delete(name);
  }

  private view(node: KubeObject): NodeView {
    const name = node.metadata.name;
    let blocks: string[] = [];
    try {
      blocks = parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]);
    } catch (error) {
      this.warnOnce(
        name,
        "BlockAnnotationInvalid",
        `annotation ${BLOCKS_ANNOTATION} ignored: ${(error as Error).message}`,
      );
    }
    const ip = internalIp(node);
    const pods = this.spec.maxBlocksPerNode > 1 ? this.podCounts.get(name) : undefined;
    return { name, blocks, ...(ip ? { ip } : {}), ...(pods === undefined ? {} : { pods }) };
  }

  private async loadLedger(): Promise<void> {
    let ledger = await this.api.get(this.ledgerRef);
    if (!ledger) {
      ledger = await this.api
        .create({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: this.ledgerRef.name, namespace: this.ledgerRef.namespace },
          data: {},
        })
        .catch(async (error: unknown) => {
          if (error instanceof KubeApiError && error.code === 409)
            return (await this.api.get(this.ledgerRef))!;
          throw error;
        });
    }
    this.useLedger(ledger);
  }

  private useLedger(ledger: KubeObject): void {
    this.ledger = parseLedger(ledger.data as Record<string, string> | undefined);
    this.ledgerVersion = ledger.metadata.resourceVersion;
  }

  /** False when another writer changed the ledger first (it is re-read). */
  private async writeLedger(
    claims: ReadonlyMap<string, string>,
    releases: readonly string[],
  ): Promise<boolean> {
    try {
      const written = await this.api.mergePatch(this.ledgerRef, {
        metadata: {
          name: this.ledgerRef.name,
          namespace: this.ledgerRef.namespace,
          resourceVersion: this.ledgerVersion,
        },
        data: ledgerPatchData(claims, releases),
      });
      this.useLedger(written);
      return true;
    } catch (error) {
      if (!(error instanceof KubeApiError) || (error.code !== 409 && error.code !== 404)) throw error;
      this.options.metrics.conflicts.add(1, { object: "ledger" });
      this.ledgerVersion = undefined;
      await this.loadLedger();
      return false;
    }
  }

  private async annotate(name: string, blocks: string[]): Promise<void> {
    const node = this.nodes.objects.get(name);
    if (!node) return;
    const before = parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]);
    const ref: ObjectRef = { apiVersion: "v1", kind: "Node", name };
    try {
      const written = await this.api.mergePatch(ref, {
        metadata: {
          name,
          resourceVersion: node.metadata.resourceVersion,
          annotations: { [BLOCKS_ANNOTATION]: formatBlocksAnnotation(blocks) },
        },
      });
      this.keepIfCurrent(node, written);
      const added = blocks.filter((block) => !before.includes(block));
      this.options.metrics.allocations.add(added.length);
      if (added.length > 0) {
        this.log.info({ node: name, blocks: added }, "node block assigned");
        this.options.record(
          name,
          "Normal",
          "BlockAllocated",
          `node block ${added.join(", ")} assigned to this node`,
        );
      }
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      if (error.code === 404) return; // deleted meanwhile; the watch will say so
      if (error.code !== 409) throw error;
      this.options.metrics.conflicts.add(1, { object: "node" });
      const fresh = await this.api.get(ref);
      if (fresh) this.keepIfCurrent(node, fresh);
      this.passes.kick();
    }
  }

  /** Stores a newer copy of a node unless the watch has already brought an even newer one. */
  private keepIfCurrent(read: KubeObject, newer: KubeObject): void {
    const cached = this.nodes.objects.get(read.metadata.name);
    if (cached?.metadata.resourceVersion === read.metadata.resourceVersion) {
      this.nodes.objects.set(read.metadata.name, newer);
    }
  }

  private scheduleRelease(now: number): void {
    clearTimeout(this.releaseTimer);
    if (this.unusedSince.size === 0) return;
    const first = Math.min(...this.unusedSince.values());
    this.releaseTimer = setTimeout(() => this.passes.kick(), Math.max(0, first + this.graceMs - now));
  }

  /** Nodes with their blocks for the route table: live nodes, and deleted ones during their grace period. */
  routeNodes(): NodeBlocks[] {
    const byNode = new Map<string, string[]>();
    for (const [name, blocks] of this.blocksOf)
      if (this.nodes.objects.has(name)) byNode.set(name, [...blocks]);
    for (const [block, owner] of this.ledger) {
      if (!this.nodes.objects.has(owner)) byNode.set(owner, [...(byNode.get(owner) ?? []), block]);
    }
    const result: NodeBlocks[] = [];
    for (const [name, blocks] of byNode) {
      const ip = this.lastIp.get(name);
      if (ip && blocks.length > 0) result.push({ name, ip, blocks });
    }
    return result;
  }

  private async syncAzure(): Promise<void> {
    const { routeTable, nics } = this.options;
    const routed = this.routeNodes();
    if (routeTable) {
      const desired = desiredRoutes(this.spec, routed);
      const limit = this.spec.routing.routeTableLimit;
      if (desired.length > limit) {
        this.warnOnce(
          "",
          "RouteTableFull",
          `more blocks need routes than the Azure route table holds (routing.routeTableLimit ${limit}): the routes beyond it fail; routing.mode vxlan needs no route table`,
        );
      }
      const owners = new Map(
        routed.flatMap((node) => node.blocks.map((block) => [routeName(this.spec.name, block), node.name])),
      );
      try {
        const changes = await syncRoutes(routeTable, this.spec.name, desired);
        this.options.metrics.routeChanges.add(changes.put.length, { action: "put" });
        this.options.metrics.routeChanges.add(changes.remove.length, { action: "delete" });
        for (const route of changes.put) {
          this.log.info(
            { route: route.name, block: route.addressPrefix, via: route.nextHopIpAddress },
            "route created",
          );
          const owner = owners.get(route.name);
          if (owner)
            this.options.record(
              owner,
              "Normal",
              "RouteCreated",
              `route ${route.name}: ${route.addressPrefix} via ${route.nextHopIpAddress}`,
            );
        }
        for (const name of changes.remove) {
          this.log.info({ route: name }, "route deleted");
          const owner = this.routeOwners.get(name);
          if (owner) this.options.record(owner, "Normal", "RouteDeleted", `route ${name} deleted`);
        }
        // Every route not desired is gone now: only the desired ones' owners are worth keeping.
        for (const name of this.routeOwners.keys()) if (!owners.has(name)) this.routeOwners.delete(name);
      } finally {
        for (const [name, owner] of owners) this.routeOwners.set(name, owner);
      }
    }
    if (nics) await this.checkNics(nics);
  }

  private async checkNics(nics: NicChecker): Promise<void> {
    const unchecked = [...this.nodes.objects.values()].flatMap((node) => {
      const ip = internalIp(node);
      const providerID = providerId(node);
      if (!ip || this.nicChecked.has(node.metadata.name)) return [];
      return [{ name: node.metadata.name, ip, ...(providerID ? { providerID } : {}) }];
    });
    if (unchecked.length === 0) return;
    const results = await nics.checkAll(unchecked, this.options.enableIpForwarding ?? false);
    for (const [name, finding] of results) {
      this.nicChecked.add(name);
      // Fixed since: a later problem is news again.
      if (!finding || finding.state === "enabled") this.forgetReports(name, "IPForwardingOff");
      if (finding?.state === "enabled") {
        this.log.info({ node: name, nic: finding.nic }, finding.message);
        this.options.record(name, "Normal", "IPForwardingEnabled", finding.message);
      } else if (finding) {
        this.warnOnce(name, "IPForwardingOff", `${finding.message}; fix: ${finding.fix}`);
      }
    }
  }

  private forgetReports(node: string, reason: string): void {
    const seen = this.reported.get(node);
    for (const key of seen ?? []) if (key.startsWith(`${reason}\n`)) seen!.delete(key);
  }

  /** Logs a problem once, with a Warning event on the node when there is one. */
  private warnOnce(node: string, reason: string, message: string): void {
    const key = `${reason}\n${message}`;
    let seen = this.reported.get(node);
    if (!seen) this.reported.set(node, (seen = new Set()));
    if (seen.has(key)) return;
    seen.add(key);
    this.log.warn({ node, reason }, message);
    if (node) this.options.record(node, "Warning", reason, message);
  }
}
