// Everything one node should have, computed at once from the spec, the node's plan and, in vxlan mode,
// the other nodes (pure).
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import { IPAM_DATA_DIR, conflistText, renderConflist } from "../cni/conflist.ts";
import { renderNodeRules } from "../noderules/rules.ts";
import type { ChainSet } from "../iptables/chain-set.ts";
import { desiredHostPath, type HostPath } from "../hostpath/desired.ts";
import { desiredOverlay, type Overlay } from "../overlay/desired.ts";
import type { OverlayPeer } from "../ipam/overlay-peers.ts";

export interface AgentPaths {
  cniConfDir: string;
  cniBinDir: string;
  ipamDataDir: string;
}

export const DEFAULT_PATHS: AgentPaths = {
  cniConfDir: "/etc/cni/net.d",
  cniBinDir: "/opt/cni/bin",
  ipamDataDir: IPAM_DATA_DIR,
};

export interface DesiredNode {
  node: NodePlan;
  conflist: string;
  rules: ChainSet;
  hostPath: HostPath;
  /** routing.mode vxlan: the tunnel device and an entry per other node. */
  overlay?: Overlay;
}

/** `peers`: every node of the cluster with its blocks (vxlan mode; this node among them is skipped). */
export function desiredNode(
  spec: ClusterSpec,
  node: NodePlan,
  paths: AgentPaths,
  peers: readonly OverlayPeer[] = [],
): DesiredNode {
  return {
    node,
    conflist: conflistText(renderConflist(spec, node, { ipamDataDir: paths.ipamDataDir })),
    rules: renderNodeRules(spec, node),
    hostPath: desiredHostPath(spec, node),
    ...(spec.routing.mode === "vxlan" ? { overlay: desiredOverlay(spec, node, peers) } : {}),
  };
}
