// The agent's NetworkPolicy loop: one informer each for NetworkPolicies, Namespaces and Pods (all
// pods of the cluster: peers are selected by labels anywhere, so the node's own pods are not enough),
// and a sync of the enforcer whenever one of them changes, coalesced so a burst of events costs one
// pass. Each resync also reads back what the kernel holds and repairs drift (the enforcer's verify).
// Runs beside the node reconcile with --kube when the spec enables policy (start.ts).
import type { Logger } from "pino";
import type { KubeReader } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { Coalescer } from "../../sys/coalesce.ts";
import { PolicyEnforcer, type EnforcedNode, type EnforcerOptions, type SyncReport } from "./enforcer.ts";
import { buildWorld } from "./world.ts";
import type { PolicyMetrics } from "./metrics.ts";
import { watchSandboxes } from "./netns.ts";

const BACKOFF_MS = 2_000;
/** A sync that threw runs again after this backoff (pod failures are retried by the next sync). */
const SYNC_BACKOFF = { firstMs: 500, maxMs: 30_000 };

export interface PolicyLoop {
  /** Resolves after the first sync that followed the first full list of all three kinds. */
  firstSync: Promise<void>;
  last(): SyncReport | undefined;
  /** Why the last sync threw, until one succeeds. */
  error(): string | undefined;
  /** The node's IP and blocks changed (a second block): the rules follow at once. */
  follow(node: EnforcedNode): void;
  stop(): Promise<void>;
}

export function startPolicyLoop(
  api: KubeReader,
  options: EnforcerOptions & {
    metrics: PolicyMetrics;
    log: Logger;
    resyncMs?: number;
    /** After each sync, with its report and the time since the oldest change it took in. */
    onSync?: (report: SyncReport, latencyMs: number) => void;
  },
): PolicyLoop {
  const enforcer = new PolicyEnforcer(options);
  const metrics = options.metrics;
  const abort = new AbortController();
  const synced = new Set<string>();
  let last: SyncReport | undefined;
  let lastError: string | undefined;
  /** The next sync reads the kernel back (a resync, or the first sync). */
  let verifyNext = true;
  let announced = false;
  let markFirst: () => void = () => undefined;
  const firstSync = new Promise<void>((resolve) => (markFirst = resolve));

  /** When the oldest change not yet in force arrived: the sync latency is measured from it. */
  let pendingSince: number | undefined;
  const kick = () => {
    pendingSince ??= performance.now();
    if (synced.size === 3) coalescer.kick();
  };
  const informer = (apiVersion: string, kind: string) =>
    new Informer(api, apiVersion, kind, {
      onEvent: kick,
      onSynced: () => {
        synced.add(kind);
        kick();
      },
      onError: (error) => options.log.warn({ err: error, kind }, "policy watch failed; relisting"),
      backoffMs: BACKOFF_MS,
    });
  const informers = {
    policies: informer("networking.k8s.io/v1", "NetworkPolicy"),
    namespaces: informer("v1", "Namespace"),
    pods: informer("v1", "Pod"),
  };

  const coalescer = new Coalescer(
    async () => {
      const since = pendingSince ?? performance.now();
      pendingSince = undefined;
      const { world, rejected } = buildWorld({
        pods: informers.pods.objects.values(),
        namespaces: informers.namespaces.objects.values(),
        policies: informers.policies.objects.values(),
      });
      if (rejected.length > 0) options.log.warn({ rejected }, "policies left out");
      const verify = verifyNext;
      verifyNext = false;
      try {
        last = await enforcer.sync(world, { verify });
      } catch (error) {
        verifyNext ||= verify;
        lastError = (error as Error).message;
        throw error;
      }
      lastError = undefined;
      const latencyMs = performance.now() - since;
      metrics.record(last, latencyMs);
      options.onSync?.(last, latencyMs);
      // The first sync is news (enforcement is in force from here on), as is any that changed rules.
      const level =
        last.failed.length > 0 || last.nodeRulesError
          ? "warn"
          : last.applied.length > 0 || last.repairs.node.length > 0 || !announced
            ? "info"
            : "debug";
      announced = true;
      options.log[level](
        {
          applied: last.applied.length,
          failed: last.failed.map((outcome) => `${outcome.pod}: ${outcome.error}`),
          unlocated: last.unlocated,
          nodeRulesError: last.nodeRulesError,
          repaired: [
            ...last.repairs.pods,
            ...last.repairs.node.map((repair) => `${repair.kind} ${repair.table}/${repair.chain}`),
          ],
          ms: last.durationMs,
          sinceChangeMs: Math.round(performance.now() - since),
        },
        "policy synced",
      );
      markFirst();
    },
    (error) => {
      metrics.recordError();
      options.log.error({ err: error }, "policy sync failed");
    },
    SYNC_BACKOFF,
  );
  // Failed pods and pods whose namespace was not there yet are retried by the resync.
  const timer = setInterval(() => {
    verifyNext = true;
    if (synced.size === 3) coalescer.kickNow();
  }, options.resyncMs ?? 10_000);
  // Fail-closed isolates a new sandbox at the sync its namespace's appearance starts.
  const unwatch = options.failClosed ? watchSandboxes(kick) : () => undefined;
  for (const each of Object.values(informers)) void each.run(abort.signal);
  return {
    firstSync,
    last: () => last,
    error: () => lastError,
    follow(node) {
      if (enforcer.follow(node)) kick();
    },
    async stop() {
      clearInterval(timer);
      unwatch();
      abort.abort();
      await coalescer.stop();
    },
  };
}
