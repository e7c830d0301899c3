// What the doctor knows about a cluster: gathered once (gather.ts), judged by pure rules (diagnose.ts).
import type { RouteChanges } from "../routes/diff.ts";
import type { AgentStatus } from "../agent/status.ts";

export type Fetched<T> = { ok: true; value: T } | { ok: false; reason: string };

interface AgentPodFacts {
  name: string;
  phase: string;
  ready: boolean;
  problem?: string;
}

export interface NodeFacts {
  name: string;
  ip?: string;
  /** The blocks annotation (aks-ipvlan.io/blocks). */
  blocks: string[];
  agentPod?: AgentPodFacts;
  /** Absent when there is no agent pod to ask. */
  status?: Fetched<AgentStatus>;
  /** The conflist hash the spec renders for this node's blocks; absent when it cannot be computed. */
  expectedConflistHash?: string;
}

export interface ClusterFacts {
  agentInstalled: boolean;
  nodes: NodeFacts[];
  coreDns: { found: boolean; ready: boolean; progress: string };
  /** The controller's block ledger: block → node; absent when the ConfigMap does not exist. */
  ledger?: Map<string, string>;
  routes: Fetched<RouteChanges>;
  /** routing.mode vxlan (known from the spec): the pod MTU every node's tunnel device must have. */
  overlay?: { mtu: number };
}
