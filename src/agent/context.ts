// Wiring one agent run from its options: the spec, the iptables backend, and where the node's block
// and the live pods come from (the spec and a file, or the Kubernetes API).
import { dirname, join } from "node:path";
import { loadSpec } from "../spec/load.ts";
import { withNodeLock } from "../sys/node-lock.ts";
import type { ClusterSpec } from "../spec/schema.ts";
import { run, type Runner } from "../sys/exec.ts";
import { backend, commandBackend, detectBackend, type Detection } from "../iptables/backend.ts";
import { UserError } from "../errors/user-error.ts";
import { desiredNode, type AgentPaths } from "./desired.ts";
import { plannedPeers, resolveNode } from "./node.ts";
import { reconcile, type ReconcileReport } from "./reconcile.ts";
import { livePodsFromFile, type LivePods } from "./ipam-gc.ts";
import type { ClusterView } from "./kube.ts";
import type { Overlay } from "../overlay/desired.ts";

export interface AgentOptions {
  config: string;
  node: string;
  paths: AgentPaths;
  kube: boolean;
  /** Testbed: a file with the node's live pod IPs, one per line (without --kube). */
  livePodsFile?: string;
  listen?: string;
  resyncSeconds?: number;
}

/** Forces the backend on nodes where detection has nothing to go on (no kubelet, e.g. a testbed). */
export const BACKEND_ENV = "AKS_IPVLAN_IPTABLES";

/** Where the agent meets the machine and the cluster; tests substitute them. */
export interface Seams {
  runner?: Runner;
  procSys?: string;
  /** With --kube: the API view (default: from the kubeconfig or the pod's service account). */
  cluster?: ClusterView;
}

export interface AgentContext {
  options: AgentOptions;
  runner: Runner;
  procSys?: string;
  detection: Detection;
  cluster?: ClusterView;
  livePods?: LivePods;
}

/** `overlay`: what the reconcile made the kernel hold (vxlan), for the peer events that follow. */
export type Outcome = { report: ReconcileReport; overlay?: Overlay } | { waiting: string };

export async function createContext(options: AgentOptions, seams: Seams = {}): Promise<AgentContext> {
  const runner = seams.runner ?? run;
  const cluster = options.kube
    ? (seams.cluster ?? (await (await import("./kube.ts")).connectClusterView(options.node)))
    : undefined;
  const livePods =
    cluster?.livePods ?? (options.livePodsFile ? livePodsFromFile(options.livePodsFile) : undefined);
  return {
    options,
    runner,
    ...(seams.procSys ? { procSys: seams.procSys } : {}),
    detection: await chooseBackend(runner),
    ...(cluster ? { cluster } : {}),
    ...(livePods ? { livePods } : {}),
  };
}

async function chooseBackend(runner: Runner): Promise<Detection> {
  const forced = process.env[BACKEND_ENV];
  if (forced === "legacy" || forced === "nft")
    return { backend: backend(forced), reason: `${BACKEND_ENV}=${forced}` };
  if (forced) {
    throw new UserError([
      {
        path: BACKEND_ENV,
        value: forced,
        message: "unknown iptables backend",
        fix: "use legacy or nft, or unset it",
      },
    ]);
  }
  return detectBackend(runner, await commandBackend());
}

/** Beside the IPAM data dir (/run/aks-ipvlan/agent.lock): on tmpfs, shared by every agent of the node. */
function nodeLockFile(paths: AgentPaths): string {
  return join(dirname(paths.ipamDataDir), "agent.lock");
}

export function readSpec(options: AgentOptions): Promise<ClusterSpec> {
  return loadSpec(options.config);
}

export async function reconcileNode(context: AgentContext, spec: ClusterSpec): Promise<Outcome> {
  const facts = context.cluster ? await context.cluster.facts() : undefined;
  const resolution = resolveNode(spec, context.options.node, facts);
  if ("waiting" in resolution) return resolution;
  // vxlan: every node's blocks, from the Node objects (--kube) or the spec's plan.
  const peers =
    spec.routing.mode !== "vxlan" ? [] : context.cluster ? await context.cluster.peers() : plannedPeers(spec);
  const desired = desiredNode(spec, resolution.node, context.options.paths, peers);
  const report = await withNodeLock(nodeLockFile(context.options.paths), () =>
    reconcile(desired, context.options.paths, {
      runner: context.runner,
      backend: context.detection.backend,
      leakGraceSeconds: spec.agent.leakGraceSeconds,
      ...(context.procSys ? { procSys: context.procSys } : {}),
      ...(context.livePods ? { livePods: context.livePods } : {}),
    }),
  );
  return { report, ...(desired.overlay ? { overlay: desired.overlay } : {}) };
}
