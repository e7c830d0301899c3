// The long-running agent: reconcile at start, when the spec file or the Node changes, and every resync
// interval; one reconcile at a time (triggers that arrive meanwhile are merged into the next one). In
// vxlan mode, a run woken only by other Nodes' changes moves just those nodes' overlay entries.
// Each reconcile hands the node's IP and blocks to NetworkPolicy enforcement (when enabled), which
// starts once the node has a block and follows its changes; the agent is ready only while policy
// that is enabled is in force.
// SIGTERM stops it and leaves the datapath in place, so pods keep working across restarts.
import type { AgentStatus, PolicyStatus } from "./status.ts";
import { stopSignal } from "../sys/signals.ts";
import { watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createLogger } from "../sys/log.ts";
import { readSysctl } from "../hostpath/apply-sysctls.ts";
import {
  createContext,
  readSpec,
  reconcileNode,
  type AgentContext,
  type AgentOptions,
  type Seams,
} from "./context.ts";
import { followPeers, type ReconcileReport } from "./reconcile.ts";
import type { Overlay } from "../overlay/desired.ts";
import { agentMetrics } from "./metrics.ts";
import { listen } from "./server.ts";
import { Coalescer } from "../sys/coalesce.ts";

interface State {
  ready: boolean;
  last?: ReconcileReport;
  lastAt?: string;
  waiting?: string;
  lastError?: string;
  /** Why the last spec reload failed (the previous spec stays in force), until one succeeds. */
  specError?: string;
}

export interface ServeHooks extends Seams {
  /** Stops the agent like SIGTERM does (tests); the CLI passes nothing and SIGTERM/SIGINT stop it. */
  stop?: AbortSignal;
  onListening?: (address: AddressInfo) => void;
  logger?: Logger;
}

export async function serve(options: AgentOptions, hooks: ServeHooks = {}): Promise<void> {
  const log = hooks.logger ?? createLogger({ node: options.node });
  let spec = await readSpec(options);
  const context = await createContext(options, hooks);
  log.info({ backend: context.detection.backend.name, reason: context.detection.reason }, "iptables backend");
  const metrics = agentMetrics();
  const state: State = { ready: false };

  // Loaded only when enabled: the policy compiler and its informers are most of the agent's modules.
  const policy = spec.agent.policy.enabled
    ? (await import("./policy/start.ts")).startPolicy(context, spec, metrics.registry, log)
    : undefined;
  const policyStatus = (): PolicyStatus => {
    if (!spec.agent.policy.enabled)
      return { enabled: false, enforced: false, reason: "disabled in the spec" };
    if (!policy) return { enabled: true, enforced: false, reason: "needs --kube" };
    return { enabled: true, ...policy.state() };
  };

  const server = await listen(options.listen ?? spec.agent.listenAddress, {
    metrics: metrics.registry,
    ready: () => state.ready && (policy?.state().enforced ?? true),
    notReadyReason: () => state.lastError ?? state.waiting ?? policy?.state().reason,
    status: async () => status(context, state, policyStatus()),
  });
  const address = server.address() as AddressInfo;
  hooks.onListening?.(address);
  log.info({ listen: `${address.address}:${address.port}` }, "serving /healthz /readyz /metrics /status");

  const reloadSpec = async () => {
    try {
      spec = await readSpec(options);
      state.specError = undefined;
    } catch (error) {
      // Keep the last good spec: a half-edited ConfigMap must not take the node's network down.
      log.error({ err: error }, "spec reload failed; keeping the previous spec");
      state.specError = (error as Error).message;
    }
  };

  let resyncSeconds = 0;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (seconds: number) => {
    if (seconds === resyncSeconds) return;
    clearInterval(timer);
    resyncSeconds = seconds;
    timer = setInterval(() => trigger.kick("resync"), seconds * 1000);
  };

  // vxlan: what the last reconcile (or peer follow) made the kernel hold; unset after a failure.
  let overlay: Overlay | undefined;
  /** Only peers changed since the last run: move only their entries (true), else a full reconcile. */
  const followed = async (reasons: ReadonlySet<string>): Promise<boolean> => {
    if (!overlay || !context.cluster || reasons.size !== 1 || !reasons.has("peers")) return false;
    const applied = overlay;
    overlay = undefined;
    try {
      const followed = await followPeers(
        context.runner,
        spec,
        applied,
        options.node,
        await context.cluster.peers(),
      );
      overlay = followed.overlay;
      if (state.last?.overlay) state.last.overlay.peers = overlay.peers.length;
      log[followed.repairs.length > 0 ? "info" : "debug"](
        { repairs: followed.repairs, peers: overlay.peers.length, ms: followed.durationMs },
        "peers followed",
      );
      return true;
    } catch (error) {
      log.warn({ err: error }, "following the peers failed; a full reconcile repairs");
      return false;
    }
  };

  const reconcileNow = async (reasons: ReadonlySet<string>) => {
    if (await followed(reasons)) return;
    overlay = undefined;
    if (reasons.has("spec")) {
      await reloadSpec();
      schedule(options.resyncSeconds ?? spec.agent.resyncSeconds);
    }
    try {
      const outcome = await reconcileNode(context, spec);
      policy?.follow(
        "waiting" in outcome ? outcome : { nodeIP: outcome.report.nodeIp, podCIDRs: outcome.report.blocks },
      );
      if ("waiting" in outcome) {
        state.waiting = outcome.waiting;
        log.info({ reasons: [...reasons] }, outcome.waiting);
        return;
      }
      const report = outcome.report;
      overlay = outcome.overlay;
      Object.assign(state, { last: report, lastAt: new Date().toISOString(), waiting: undefined });
      state.lastError = report.problems.length > 0 ? report.problems.join("; ") : undefined;
      // Ready from the first clean reconcile on; a shadowing config takes it back while it is there.
      const wasReady = state.ready;
      state.ready = !report.shadowedBy && (state.ready || report.problems.length === 0);
      // The transitions are events an operator (and the testbed) waits for; /readyz says the same.
      if (state.ready !== wasReady) log[state.ready ? "info" : "warn"](state.ready ? "ready" : "not ready");
      metrics.recordSuccess(report);
      const level = report.repairs.length > 0 || report.problems.length > 0 ? "info" : "debug";
      log[level](
        { reasons: [...reasons], repairs: report.repairs, problems: report.problems, ms: report.durationMs },
        "reconciled",
      );
    } catch (error) {
      metrics.recordError();
      state.lastError = (error as Error).message;
      log.error({ reasons: [...reasons], err: error }, "reconcile failed");
    }
  };

  // reconcileNow logs its own failures; a failed reconcile is retried at the next resync.
  const trigger = new Coalescer(reconcileNow, (error) => log.error({ err: error }, "reconcile failed"));
  trigger.kick("start");
  schedule(options.resyncSeconds ?? spec.agent.resyncSeconds);
  const specWatcher = watchSpec(options.config, () => trigger.kick("spec"));
  const stopNodeWatch = context.cluster?.watchNode(() => trigger.kick("node"));
  // vxlan: a node joining, leaving or changing blocks is followed at once, its entries alone (the resync
  // reads everything back and repairs the rest).
  const stopPeerWatch =
    spec.routing.mode === "vxlan" ? context.cluster?.watchPeers(() => trigger.kick("peers")) : undefined;
  const signal = await stopped(hooks.stop);
  log.info({ signal }, "stopping; the datapath stays in place");
  specWatcher?.close();
  stopNodeWatch?.();
  stopPeerWatch?.();
  await policy?.stop();
  await trigger.stop();
  clearInterval(timer); // after the last reconcile, which may have scheduled a new interval
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
}

function stopped(stop: AbortSignal | undefined): Promise<string> {
  const signal = stop ?? stopSignal();
  return new Promise((resolve) => {
    const done = () => resolve(stop ? "abort" : String(signal.reason));
    if (signal.aborted) done();
    else signal.addEventListener("abort", done, { once: true });
  });
}

/** The ConfigMap volume swaps a symlink in the directory; watching the file itself would miss that. */
function watchSpec(file: string, onChange: () => void): FSWatcher | undefined {
  try {
    return watch(dirname(file), () => onChange());
  } catch {
    return undefined; // the resync interval still picks up changes
  }
}

async function status(context: AgentContext, state: State, policy: PolicyStatus): Promise<AgentStatus> {
  const report = state.last;
  return {
    node: context.options.node,
    ready: state.ready,
    ...(state.waiting ? { waiting: state.waiting } : {}),
    nodeIp: report?.nodeIp,
    blocks: report?.blocks ?? [],
    backend: report?.backend,
    backendReason: context.detection.reason,
    conflist: report?.conflist,
    chains: report?.chains,
    hostDevice: report?.hostDevice,
    overlay: report?.overlay,
    ipForward: await readSysctl("net.ipv4.ip_forward", context.procSys),
    addresses: report && {
      inUse: report.addresses.inUse,
      capacity: report.addresses.capacity,
      gc: report.addresses.gc,
    },
    lastReconcile: report && { at: state.lastAt, durationMs: report.durationMs, repairs: report.repairs },
    lastError: state.lastError ?? null,
    specError: state.specError ?? null,
    policy,
  };
}
