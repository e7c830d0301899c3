// The agent's view of the cluster through the API: its Node (InternalIP, blocks annotation), a watch
// that wakes the reconcile when the Node changes, every Node's address and blocks for the VXLAN overlay
// (one cluster-wide Node informer in vxlan mode), the pods bound to it (for leak collection), and the
// reader itself for the NetworkPolicy informers. Loaded only with --kube; reads through
// rest-client.ts, never @kubernetes/client-node (issue 13).
import { setTimeout as delay } from "node:timers/promises";
import type { KubeObject, KubeReader } from "../kube/api.ts";
import { Informer } from "../kube/informer.ts";
import { modelOf } from "../kube/models.ts";
import { internalIp, slimNode } from "../kube/nodes.ts";
import { agentRestConfig } from "../kube/rest-config.ts";
import { restClient } from "../kube/rest-client.ts";
import { LIST_PAGE_SIZE } from "../kube/bounds.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../ipam/annotation.ts";
import type { NodeFacts } from "./node.ts";
import type { LivePods } from "./ipam-gc.ts";
import type { OverlayPeer } from "../ipam/overlay-peers.ts";

export interface ClusterView {
  facts(): Promise<NodeFacts>;
  /** Calls onChange whenever the Node object changes; the returned function stops watching. */
  watchNode(onChange: () => void): () => void;
  /** Every Node's name, InternalIP and blocks: from watchPeers' cache once it has synced, else one list. */
  peers(): Promise<OverlayPeer[]>;
  /** Follows every Node (vxlan mode): onChange on each change after the first list; returns stop. */
  watchPeers(onChange: () => void): () => void;
  livePods: LivePods;
  /** The same client (one connection pool) for the agent's other informers: NetworkPolicy. */
  api: KubeReader;
}

const REWATCH_DELAY_MS = 2_000;
/** How long a reconcile waits for the Node informer's first list before it lists by itself. */
const FIRST_SYNC_WAIT_MS = 30_000;

/** The cluster view over the agent's own client, configured as agentRestConfig finds the API server. */
export async function connectClusterView(nodeName: string): Promise<ClusterView> {
  return clusterView(nodeName, restClient(await agentRestConfig()));
}

export function clusterView(nodeName: string, api: KubeReader): ClusterView {
  const nodeRef = { apiVersion: "v1", kind: "Node", name: nodeName };
  let peerCache: { informer: Informer; synced: boolean; firstSync: Promise<void> } | undefined;
  return {
    api,
    async facts() {
      const node = await api.get(nodeRef);
      if (!node) throw new Error(`node ${nodeName} does not exist in the cluster (check --node / NODE_NAME)`);
      return nodeFacts(node);
    },
    watchNode(onChange) {
      const stop = new AbortController();
      let synced = false;
      // The first list is where the watch starts, not a change; changes a relist finds are.
      const informer = new Informer(api, "v1", "Node", {
        fieldSelector: `metadata.name=${nodeName}`,
        onEvent: () => {
          if (synced) onChange();
        },
        onSynced: () => (synced = true),
        // The resync interval still reconciles; the watch only makes changes land sooner.
        backoffMs: REWATCH_DELAY_MS,
      });
      void informer.run(stop.signal);
      return () => stop.abort();
    },
    async peers() {
      // While the informer makes its first list, a second list of every Node would double the
      // agent's peak memory at 5,000 nodes: wait for the first instead, within a bound (an informer
      // that cannot list retries forever; the reconcile's own list then says why).
      if (peerCache && !peerCache.synced) {
        const waited = new AbortController();
        await Promise.race([
          peerCache.firstSync,
          delay(FIRST_SYNC_WAIT_MS, undefined, { signal: waited.signal }).catch(() => undefined),
        ]);
        waited.abort();
      }
      const nodes = peerCache?.synced
        ? [...peerCache.informer.objects.values()]
        : (await api.list("v1", "Node")).items;
      return nodes.map(overlayPeer);
    },
    watchPeers(onChange) {
      const stop = new AbortController();
      let firstSynced = () => {};
      const informer = new Informer(api, "v1", "Node", {
        onEvent: () => {
          if (cache.synced) onChange();
        },
        onSynced: () => {
          cache.synced = true;
          firstSynced();
        },
        // Of every Node only what the overlay reads: a whole Node (labels, conditions, images) is
        // kilobytes, and the store holds 5,000 of them.
        keep: slimNode,
        pageSize: LIST_PAGE_SIZE,
        backoffMs: REWATCH_DELAY_MS,
      });
      const cache = {
        informer,
        synced: false,
        firstSync: new Promise<void>((resolve) => (firstSynced = resolve)),
      };
      peerCache = cache;
      void informer.run(stop.signal);
      return () => {
        stop.abort();
        if (peerCache === cache) peerCache = undefined;
      };
    },
    livePods: {
      async podIps() {
        const pods = await api.list("v1", "Pod", { fieldSelector: `spec.nodeName=${nodeName}` });
        return new Set(pods.items.flatMap(podIps));
      },
    },
  };
}

export function nodeFacts(node: KubeObject): NodeFacts {
  const ip = internalIp(node);
  return {
    ...(ip ? { internalIp: ip } : {}),
    blocks: parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]),
  };
}

function overlayPeer(node: KubeObject): OverlayPeer {
  const facts = nodeFacts(node);
  return { name: node.metadata.name ?? "", ip: facts.internalIp ?? "", blocks: facts.blocks };
}

/** A finished pod's sandbox is gone (its DEL ran or failed); only running or starting pods hold addresses. */
export function podIps(pod: KubeObject): string[] {
  const status = modelOf("v1/Pod", pod).status;
  if (status?.phase === "Succeeded" || status?.phase === "Failed") return [];
  return [
    ...new Set([
      ...(status?.podIPs ?? []).map((entry) => entry.ip),
      ...(status?.podIP ? [status.podIP] : []),
    ]),
  ];
}
