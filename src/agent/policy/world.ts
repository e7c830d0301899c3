// The policy world (src/policy/model.ts) from the objects the agent's informers hold: pods with an IP
// of their own (host-network pods share the node's namespace and are not policy targets), namespaces
// with their labels, and every policy that parses. A policy that does not parse is left out and named.
import type { KubeObject } from "../../kube/client.ts";
import {
  PROTOCOLS,
  parseNetworkPolicy,
  type NetworkPolicy,
  type PodPort,
  type PolicyPod,
  type PolicyWorld,
  type Protocol,
} from "../../policy/model.ts";
import { podIps } from "../kube.ts";
import { modelOf } from "../../kube/models.ts";
import { isIPv4 } from "../../net/cidr.ts";

export interface WorldObjects {
  pods: Iterable<KubeObject>;
  namespaces: Iterable<KubeObject>;
  policies: Iterable<KubeObject>;
}

export interface BuiltWorld {
  world: PolicyWorld;
  /** `namespace/name: why` for each policy left out. */
  rejected: string[];
}

export function policyPod(pod: KubeObject): PolicyPod | undefined {
  const spec = modelOf("v1/Pod", pod).spec;
  const ip = podIps(pod).find(isIPv4);
  if (!spec || spec.hostNetwork || !spec.nodeName || !ip || !pod.metadata.namespace) return undefined;
  const ports: PodPort[] = (spec.containers ?? []).flatMap((container) =>
    (container.ports ?? []).flatMap((port) => {
      const protocol = (port.protocol ?? "TCP") as Protocol;
      if (!port.containerPort || !PROTOCOLS.includes(protocol)) return [];
      return [{ ...(port.name ? { name: port.name } : {}), port: port.containerPort, protocol }];
    }),
  );
  return {
    namespace: pod.metadata.namespace,
    name: pod.metadata.name,
    ip,
    node: spec.nodeName,
    labels: pod.metadata.labels ?? {},
    ports,
  };
}

export function buildWorld(objects: WorldObjects): BuiltWorld {
  const rejected: string[] = [];
  const policies: NetworkPolicy[] = [];
  for (const object of objects.policies) {
    try {
      policies.push(parseNetworkPolicy(object));
    } catch (error) {
      rejected.push(`${object.metadata.namespace}/${object.metadata.name}: ${(error as Error).message}`);
    }
  }
  return {
    world: {
      pods: [...objects.pods].flatMap((pod) => policyPod(pod) ?? []),
      namespaces: [...objects.namespaces].map((ns) => ({
        name: ns.metadata.name,
        labels: ns.metadata.labels ?? {},
      })),
      policies,
    },
    rejected,
  };
}
