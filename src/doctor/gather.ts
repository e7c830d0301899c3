// Collecting the doctor's facts from the cluster. Node facts come from each agent's GET /status.
// The agent listens on the node's loopback (spec.agent.listenAddress, host network), which the API
// server's node proxy cannot reach; so the doctor execs into the agent's own container, which has
// node (its entry point) and shares the node's network namespace, and fetches the page there. The URL
// travels as an argument, never spliced into the script.
import { z } from "zod";
import type { ClusterSpec } from "../spec/schema.ts";
import { labelSelector, type KubeApi, type KubeObject } from "../kube/client.ts";
import type { PodExec } from "../kube/exec.ts";
import { podState } from "../kube/pods.ts";
import { internalIp } from "../kube/nodes.ts";
import { modelOf } from "../kube/models.ts";
import { deploymentRollout } from "../kube/rollout.ts";
import { COREDNS } from "../kube/install.ts";
import { mapBounded } from "../sys/bounded.ts";
import { AGENT_NAME, LEDGER_NAME, NAMESPACE, labelsOf } from "../manifests/names.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../ipam/annotation.ts";
import { nodePlan } from "../ipam/planner.ts";
import { checkedPool } from "../ipam/pool.ts";
import { DEFAULT_PATHS, desiredNode } from "../agent/desired.ts";
import { contentHash } from "../agent/cni-files.ts";
import { parseLedger } from "../controller/ledger.ts";
import { desiredRoutes } from "../routes/routes.ts";
import { routeChanges, type TableRoute } from "../routes/diff.ts";
import type { RouteTableRef } from "../azure/arm-client.ts";
import type { ClusterFacts, Fetched, NodeFacts } from "./facts.ts";
import { agentStatusSchema, type AgentStatus } from "../agent/status.ts";
import { podMtu } from "../spec/mtu.ts";

const DEFAULT_LISTEN = "127.0.0.1:9464";
const STATUS_TIMEOUT_MS = 15_000;
const PARALLEL_NODES = 8;
const FETCH_STATUS =
  "fetch(process.argv[1]).then(r=>r.ok?r.text():Promise.reject(new Error('HTTP '+r.status))).then(t=>process.stdout.write(t))";

export interface GatherDeps {
  api: KubeApi;
  exec: PodExec;
  /** With a spec: expected conflists and routes can be computed; without, those checks say so. */
  spec?: ClusterSpec;
  /** Reads the Azure route table; absent when it cannot be read from here (the reason says why). */
  routeTable: ((ref: RouteTableRef) => Promise<TableRoute[]>) | { unavailable: string };
}

export async function gatherFacts(deps: GatherDeps): Promise<ClusterFacts> {
  const { api } = deps;
  const daemonSet = await api.get({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    name: AGENT_NAME,
    namespace: NAMESPACE,
  });
  // The nodes the agent is meant to run on (its nodeSelector); Windows nodes are none of our business.
  const template = daemonSet && modelOf("apps/v1/DaemonSet", daemonSet).spec?.template;
  const nodeSelector = template?.spec?.nodeSelector ?? { "kubernetes.io/os": "linux" };
  const [nodeList, podList, coreDns, ledger] = await Promise.all([
    api.list("v1", "Node", { labelSelector: labelSelector(nodeSelector) }),
    api.list("v1", "Pod", { namespace: NAMESPACE, labelSelector: labelSelector(labelsOf(AGENT_NAME)) }),
    api.get(COREDNS),
    api.get({ apiVersion: "v1", kind: "ConfigMap", name: LEDGER_NAME, namespace: NAMESPACE }),
  ]);
  const podsByNode = new Map(podList.items.map((pod) => [nodeNameOf(pod), pod]));
  const listen = deps.spec?.agent.listenAddress ?? DEFAULT_LISTEN;
  const nodes = await mapBounded(nodeList.items, PARALLEL_NODES, (node) =>
    nodeFacts(deps, node, podsByNode.get(node.metadata.name), listen),
  );
  const verdict = deploymentRollout(coreDns);
  const overlayMtu = deps.spec?.routing.mode === "vxlan" ? podMtu(deps.spec) : undefined;
  return {
    agentInstalled: daemonSet !== undefined,
    nodes,
    coreDns: { found: coreDns !== undefined, ready: verdict.done, progress: verdict.progress },
    ...(ledger ? { ledger: parseLedger(ledger.data as Record<string, string> | undefined) } : {}),
    routes: await routes(deps, nodes),
    ...(overlayMtu === undefined ? {} : { overlay: { mtu: overlayMtu } }),
  };
}

async function nodeFacts(
  deps: GatherDeps,
  node: KubeObject,
  pod: KubeObject | undefined,
  listen: string,
): Promise<NodeFacts> {
  const name = node.metadata.name;
  const ip = internalIp(node);
  const blocks = parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]);
  const facts: NodeFacts = { name, blocks, ...(ip ? { ip } : {}) };
  const hash = deps.spec && ip ? expectedHash(deps.spec, name, ip, blocks) : undefined;
  if (hash) facts.expectedConflistHash = hash;
  if (!pod) return facts;
  const state = podState(pod);
  facts.agentPod = {
    name: pod.metadata.name,
    phase: state.phase,
    ready: state.ready,
    ...(state.problem ? { problem: state.problem } : {}),
  };
  facts.status =
    state.phase === "Running"
      ? await agentStatus(deps.exec, pod, listen)
      : { ok: false, reason: `agent pod is ${state.phase}` };
  return facts;
}

async function agentStatus(exec: PodExec, pod: KubeObject, listen: string): Promise<Fetched<AgentStatus>> {
  const target = { namespace: NAMESPACE, name: pod.metadata.name, container: "agent" };
  try {
    const result = await exec.exec(target, ["node", "-e", FETCH_STATUS, `http://${listen}/status`], {
      timeoutMs: STATUS_TIMEOUT_MS,
    });
    if (result.code !== 0)
      return { ok: false, reason: (result.stderr || result.stdout).trim() || `exit ${result.code}` };
    const parsed = agentStatusSchema.safeParse(JSON.parse(result.stdout));
    if (!parsed.success)
      return { ok: false, reason: `not an agent status: ${z.prettifyError(parsed.error)}` };
    return { ok: true, value: parsed.data };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

function expectedHash(spec: ClusterSpec, name: string, ip: string, blocks: string[]): string | undefined {
  if (blocks.length === 0) return undefined;
  try {
    const plan = nodePlan({ name, ip }, blocks, checkedPool(spec));
    return contentHash(desiredNode(spec, plan, DEFAULT_PATHS).conflist);
  } catch {
    return undefined; // a block outside this spec's pool: the conflist check reports the mismatch
  }
}

async function routes(deps: GatherDeps, nodes: readonly NodeFacts[]): Promise<ClusterFacts["routes"]> {
  const table = deps.spec?.controller.routeTable;
  if (!deps.spec) return { ok: false, reason: "no spec given (--config): the route table is not known" };
  if (deps.spec.routing.mode === "vxlan")
    return {
      ok: false,
      reason: "routing.mode vxlan: pods reach other nodes through the overlay, no route table",
    };
  if (!table) return { ok: false, reason: "spec.controller.routeTable is not set: routes are not managed" };
  if ("unavailable" in deps.routeTable) return { ok: false, reason: deps.routeTable.unavailable };
  const spec = deps.spec;
  const desired = desiredRoutes(
    spec,
    nodes.flatMap((node) => (node.ip ? [{ name: node.name, ip: node.ip, blocks: node.blocks }] : [])),
  );
  try {
    return { ok: true, value: routeChanges(spec.name, desired, await deps.routeTable(table)) };
  } catch (error) {
    return { ok: false, reason: `cannot read route table ${table.name}: ${(error as Error).message}` };
  }
}

function nodeNameOf(pod: KubeObject): string | undefined {
  return modelOf("v1/Pod", pod).spec?.nodeName;
}
