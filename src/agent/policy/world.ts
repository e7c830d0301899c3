// The policy world (src/policy/model.ts) from the objects the agent's informers hold: pods with an IP
// of their own (host-network pods share the node's namespace and are not policy targets), namespaces
// with their labels, and every policy that parses. A policy that does not parse is left out and named.
// The pod fields the rules depend on are parsed here, at the boundary, against kubernetes-models' types.
import { z } from "zod";
import type { IContainerPort } from "kubernetes-models/v1/ContainerPort";
import type { KubeObject } from "../../kube/api.ts";
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

// A port with a protocol the rules do not know (none today) is dropped, not the whole pod.
const containerPortSchema = z.looseObject({
  name: z.string().optional(),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.string().optional(),
}) satisfies z.ZodType<Pick<IContainerPort, "name" | "containerPort">>;
const podSpecSchema = z.looseObject({
  hostNetwork: z.boolean().optional(),
  nodeName: z.string().optional(),
  containers: z.array(z.looseObject({ ports: z.array(containerPortSchema).optional() })).optional(),
});

const isProtocol = (text: string): text is Protocol => (PROTOCOLS as readonly string[]).includes(text);

export function policyPod(pod: KubeObject): PolicyPod | undefined {
  const parsed = podSpecSchema.safeParse(pod.spec ?? {});
  const ip = podIps(pod).find(isIPv4);
  if (!parsed.success) return undefined;
  const spec = parsed.data;
  if (spec.hostNetwork || !spec.nodeName || !ip || !pod.metadata.namespace) return undefined;
  const ports: PodPort[] = (spec.containers ?? []).flatMap((container) =>
    (container.ports ?? []).flatMap((port) => {
      const protocol = port.protocol ?? "TCP";
      if (!isProtocol(protocol)) return [];
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
