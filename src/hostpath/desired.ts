// What the node itself needs beyond iptables so that pods are reachable from their host: the host
// device (an ipvlan of the same l3s mode on the master) with a route to each block through it, and the
// sysctls DATAPATH.md measured as necessary.
import type { ClusterSpec } from "../spec/schema.ts";
import type { NodePlan } from "../ipam/planner.ts";

/** The ipvlan device in the node's namespace; kubelet probes and same-node services need it. */
export const HOST_DEVICE = "ipvl-host";

interface HostRoute {
  dst: string;
  dev: string;
  src: string;
}

export interface HostPath {
  device: string;
  master: string;
  routes: HostRoute[];
  /** sysctl key (dotted, as `sysctl` writes it) → value. */
  sysctls: Record<string, string>;
}

export function desiredHostPath(spec: ClusterSpec, node: NodePlan): HostPath {
  return {
    device: HOST_DEVICE,
    master: spec.masterInterface,
    routes: node.blocks.map((block) => ({ dst: block.cidr, dev: HOST_DEVICE, src: node.ip })),
    // ip_forward: cross-node NodePort and same-node ClusterIP break without it (DATAPATH.md).
    sysctls: { "net.ipv4.ip_forward": "1" },
  };
}
