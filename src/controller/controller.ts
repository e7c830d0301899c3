// The block controller, run by the leader: keeps every node holding a block (ledger first, then the
// node annotation the agent reads) and returns blocks of deleted nodes after the grace period. After
// each allocation pass, and at every resync, it hands the nodes and their blocks to the routing mode's
// syncer (routing.ts), which keeps the cloud side in line: the Azure route table and NICs (vnet.ts),
// or nothing (vxlan.ts).
import type { Logger } from "pino";
import type { ClusterSpec } from "../spec/schema.ts";
import { KubeApiError, type KubeApi, type KubeObject, type ObjectRef } from "../kube/client.ts";
import { BLOCKS_ANNOTATION, formatBlocksAnnotation, parseBlocksAnnotation } from "../ipam/annotation.ts";
import { assignBlocks, type NodeView } from "../ipam/assign.ts";
import { LedgerStore } from "./ledger.ts";
import { NAMESPACE } from "../manifests/names.ts";
import { Informer } from "../kube/informer.ts";
import { modelOf } from "../kube/models.ts";
import { internalIp, slimNode } from "../kube/nodes.ts";
import { LIST_PAGE_SIZE } from "../kube/bounds.ts";
import { type Backoff, Coalescer } from "../sys/coalesce.ts";
import { mapBounded } from "../sys/bounded.ts";
import type { NodeBlocks } from "../routes/routes.ts";
import { pause } from "./leader.ts";
import type { ControllerMetrics } from "./metrics.ts";
import type { EventRecorder } from "./events.ts";
import { Reports } from "./reports.ts";
import { liveNode, type NodesView, type RoutingSyncer } from "./routing.ts";

export interface ControllerOptions {
  spec: ClusterSpec;
  api: KubeApi;
  metrics: ControllerMetrics;
  log: Logger;
  record: EventRecorder;
  namespace?: string;
  /** The routing mode's cloud side, fed the nodes and their blocks. */
  routing: RoutingSyncer;
  /** Default: spec.controller.releaseGraceSeconds. */
  releaseGraceMs?: number;
  /** How often the allocation pass and a full routing sync run, even without changes. */
  resyncMs?: number;
  /** How often pods are counted (only when maxBlocksPerNode > 1). */
  podResyncMs?: number;
  /** Node annotation writes in flight at once. */
  writeConcurrency?: number;
  /** How soon a failed allocation pass or routing sync runs again, doubling up to the cap. */
  retryBackoff?: Backoff;
}

const RETRY_BACKOFF: Backoff = { firstMs: 500, maxMs: 30_000 };

export class BlockController {
  readonly nodes: Informer;
  private readonly options: ControllerOptions;
  private readonly spec: ClusterSpec;
  private readonly api: KubeApi;
  private readonly log: Logger;
  private readonly ledger: LedgerStore;
  private readonly graceMs: number;
  private readonly passes: Coalescer;
  private readonly syncs: Coalescer;
  private readonly reports: Reports;
  /** The next routing sync is a resync's: everything is checked again. */
  private fullSync = false;
  private readonly unusedSince = new Map<string, number>();
  private readonly lastIp = new Map<string, string>();
  private podCounts = new Map<string, number>();
  private blocksOf = new Map<string, string[]>();
  private synced = false;
  private releaseTimer: NodeJS.Timeout | undefined;

  constructor(options: ControllerOptions) {
    this.options = options;
    this.spec = options.spec;
    this.api = options.api;
    this.log = options.log;
    this.graceMs = options.releaseGraceMs ?? options.spec.controller.releaseGraceSeconds * 1000;
    this.ledger = new LedgerStore(options.api, options.namespace ?? NAMESPACE, options.metrics);
    const onError = (what: string) => (error: unknown) => this.log.error({ err: error }, what);
    const backoff = options.retryBackoff ?? RETRY_BACKOFF;
    this.passes = new Coalescer(() => this.pass(), onError("allocation pass failed"), backoff);
    this.syncs = new Coalescer(() => this.syncRouting(), onError("routing sync failed"), backoff);
    this.reports = new Reports(options.log, options.record);
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
      // Of every Node only what allocation and routing read, in pages (a store of 5,000 whole Nodes
      // and a list of them in one body are each hundreds of megabytes).
      keep: slimNode,
      pageSize: LIST_PAGE_SIZE,
    });
  }

  /** Runs until `signal` aborts, then waits for the writes in flight. */
  async run(signal: AbortSignal): Promise<void> {
    const loops = [this.nodes.run(signal), this.resync(signal)];
    if (this.spec.maxBlocksPerNode > 1) loops.push(this.countPods(signal));
    await Promise.all(loops);
    clearTimeout(this.releaseTimer);
    await this.passes.stop();
    await this.syncs.stop();
  }

  private async resync(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await pause(this.options.resyncMs ?? 60_000, signal);
      // The allocation pass too: it is what a missed or failed pass is caught up by at the latest.
      this.passes.kickNow();
      this.fullSync = true;
      this.syncs.kickNow();
    }
  }

  private async countPods(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        // Every pod of the cluster, counted page by page: a 5,000-node cluster's pods in one body would
        // pass the client's bound (kube/bounds.ts) and be held whole.
        const counts = new Map<string, number>();
        let next: string | undefined;
        do {
          const page = await this.api.list("v1", "Pod", {
            limit: LIST_PAGE_SIZE,
            ...(next ? { continue: next } : {}),
          });
          next = page.continue;
          for (const pod of page.items) {
            const { spec, status } = modelOf("v1/Pod", pod);
            const phase = status?.phase;
            if (!spec?.nodeName || spec.hostNetwork || phase === "Succeeded" || phase === "Failed") continue;
            counts.set(spec.nodeName, (counts.get(spec.nodeName) ?? 0) + 1);
          }
        } while (next);
        this.podCounts = counts;
        this.passes.kick();
      } catch (error) {
        this.log.error({ err: error }, "counting pods failed");
      }
      await pause(this.options.podResyncMs ?? 30_000, signal);
    }
  }

  private async pass(): Promise<void> {
    if (!this.synced) return;
    if (!this.ledger.loaded) await this.ledger.load();
    const now = Date.now();
    const due = new Set<string>();
    for (const [block, since] of this.unusedSince) if (now - since >= this.graceMs) due.add(block);
    const views = [...this.nodes.objects.values()].map((node) => this.view(node));
    const assignment = assignBlocks(this.spec, { ledger: this.ledger.blocks, nodes: views, due });

    const unused = new Set(assignment.unused);
    for (const block of unused) if (!this.unusedSince.has(block)) this.unusedSince.set(block, now);
    for (const block of [...this.unusedSince.keys()]) if (!unused.has(block)) this.unusedSince.delete(block);

    if (assignment.claims.size > 0 || assignment.releases.length > 0) {
      if (!(await this.ledger.write(assignment.claims, assignment.releases))) {
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
      this.reports.warnOnce(warning.node, "BlockConflict", `${warning.block}: ${warning.message}`);
    for (const node of assignment.exhausted) {
      this.reports.warnOnce(
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
    this.syncs.kick();
  }

  /**
   * Keeps what is known per node bounded by the nodes there are: a deleted node is forgotten once its
   * blocks left the ledger (its routes need its last IP until then).
   */
  private forgetGoneNodes(): void {
    const live = new Set(this.nodes.objects.keys());
    const owners = new Set(this.ledger.blocks.values());
    for (const name of this.lastIp.keys()) if (!live.has(name) && !owners.has(name)) this.lastIp.delete(name);
    this.reports.keepOnly(live);
  }

  private view(node: KubeObject): NodeView {
    const name = node.metadata.name;
    let blocks: string[] = [];
    try {
      blocks = parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]);
    } catch (error) {
      this.reports.warnOnce(
        name,
        "BlockAnnotationInvalid",
        `annotation ${BLOCKS_ANNOTATION} ignored: ${(error as Error).message}`,
      );
    }
    const ip = internalIp(node);
    const pods = this.spec.maxBlocksPerNode > 1 ? this.podCounts.get(name) : undefined;
    return { name, blocks, ...(ip ? { ip } : {}), ...(pods === undefined ? {} : { pods }) };
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
      this.nodes.objects.set(read.metadata.name, slimNode(newer));
    }
  }

  private scheduleRelease(now: number): void {
    clearTimeout(this.releaseTimer);
    if (this.unusedSince.size === 0) return;
    const first = Math.min(...this.unusedSince.values());
    this.releaseTimer = setTimeout(() => this.passes.kick(), Math.max(0, first + this.graceMs - now));
  }

  /** The nodes and their blocks, as every routing mode's syncer sees them. */
  private nodesView(): NodesView {
    const byNode = new Map<string, string[]>();
    for (const [name, blocks] of this.blocksOf)
      if (this.nodes.objects.has(name)) byNode.set(name, [...blocks]);
    for (const [block, owner] of this.ledger.blocks) {
      if (!this.nodes.objects.has(owner)) byNode.set(owner, [...(byNode.get(owner) ?? []), block]);
    }
    const routed: NodeBlocks[] = [];
    for (const [name, blocks] of byNode) {
      const ip = this.lastIp.get(name);
      if (ip && blocks.length > 0) routed.push({ name, ip, blocks });
    }
    return { routed, live: [...this.nodes.objects.values()].map(liveNode) };
  }

  private async syncRouting(): Promise<void> {
    const full = this.fullSync;
    this.fullSync = false;
    try {
      await this.options.routing.sync(this.nodesView(), full);
    } catch (error) {
      // The retry checks everything the failed resync would have.
      if (full) this.fullSync = true;
      throw error;
    }
  }
}
