// Everything one node should have, computed at once from the spec and the node's plan (pure).
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";
import { IPAM_DATA_DIR, conflistText, renderConflist } from "../cni/conflist.ts";
import { renderNodeRules } from "../noderules/rules.ts";
import type { ChainSet } from "../iptables/chain-set.ts";
import { desiredHostPath, type HostPath } from "../hostpath/desired.ts";

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
}

export function desiredNode(spec: ClusterSpec, node: NodePlan, paths: AgentPaths): DesiredNode {
  return {
    node,
    conflist: conflistText(renderConflist(spec, node, { ipamDataDir: paths.ipamDataDir })),
    rules: renderNodeRules(spec, node),
    hostPath: desiredHostPath(spec, node),
  };
}
