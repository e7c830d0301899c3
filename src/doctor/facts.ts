// What the doctor knows about a cluster: gathered once (gather.ts), judged by pure rules (diagnose.ts).
import type { RouteChanges } from "../routes/diff.ts";

/** The agent's GET /status answer, as far as the doctor reads it (src/agent/serve.ts writes it). */
export interface AgentStatus {
  node?: string;
  ready?: boolean;
  waiting?: string;
  nodeIp?: string;
  blocks?: string[];
  conflist?: { path: string; hash: string } | null;
  chains?: { nat: string[]; filter: string[] } | null;
  hostDevice?: string | null;
  ipForward?: string | number | null;
  addresses?: { inUse: number; capacity: number } | null;
  lastError?: string | null;
}

export type Fetched<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface AgentPodFacts {
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
}
