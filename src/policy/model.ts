// The inputs of NetworkPolicy enforcement as plain data: the pods (by IP, with labels and named
// ports), the namespaces (labels) and the policies. Both the rule compiler and the reference evaluator
// read only this; the agent builds it from its informers, parsing each policy here at the boundary.
import { z } from "zod";
import { UserError, formatPath } from "../errors/user-error.ts";
import { isIPv4 } from "../net/cidr.ts";

export type Protocol = "TCP" | "UDP" | "SCTP";
export const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];

export interface PodPort {
  name?: string;
  port: number;
  protocol: Protocol;
}

/** A pod with its own network namespace (host-network pods are not policy targets and are left out). */
export interface PolicyPod {
  namespace: string;
  name: string;
  ip: string;
  node: string;
  labels: Record<string, string>;
  /** The containers' ports; named ports in policies resolve against these. */
  ports: PodPort[];
}

interface PolicyNamespace {
  name: string;
  labels: Record<string, string>;
}

export interface PolicyWorld {
  pods: PolicyPod[];
  namespaces: PolicyNamespace[];
  policies: NetworkPolicy[];
}

/** "namespace/name": how the agent names a pod. */
export type PodKey = string;

export function podKey(pod: { namespace: string; name: string }): PodKey {
  return `${pod.namespace}/${pod.name}`;
}

// The API server has validated every policy it serves; this schema re-checks what the rules depend
// on (a value reaches an iptables argument only in the form checked here) and rejects IPv6 nowhere:
// an IPv6 ipBlock is valid and simply matches no IPv4 traffic.
const labelsSchema = z.record(z.string(), z.string());
const selectorSchema = z.object({
  matchLabels: labelsSchema.optional(),
  matchExpressions: z
    .array(
      z
        .object({
          key: z.string().min(1),
          operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
          values: z.array(z.string()).optional(),
        })
        .refine(
          (req) =>
            req.operator === "In" || req.operator === "NotIn"
              ? (req.values?.length ?? 0) > 0
              : (req.values?.length ?? 0) === 0,
          { message: "In/NotIn need values; Exists/DoesNotExist take none" },
        ),
    )
    .optional(),
});
const cidrSchema = z.string().refine((text) => {
  const [address, prefix, extra] = text.split("/");
  if (extra !== undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  return isIPv4(address ?? "")
    ? Number(prefix) <= 32
    : (address ?? "").includes(":") && Number(prefix) <= 128;
}, "not a CIDR (a.b.c.d/n, or an IPv6 CIDR)");
const peerSchema = z
  .object({
    podSelector: selectorSchema.optional(),
    namespaceSelector: selectorSchema.optional(),
    ipBlock: z.object({ cidr: cidrSchema, except: z.array(cidrSchema).optional() }).optional(),
  })
  .refine(
    (peer) =>
      peer.ipBlock
        ? !peer.podSelector && !peer.namespaceSelector
        : peer.podSelector !== undefined || peer.namespaceSelector !== undefined,
    { message: "a peer is either an ipBlock or pod/namespace selectors" },
  );
const portSchema = z
  .object({
    protocol: z.enum(["TCP", "UDP", "SCTP"]).optional(),
    port: z
      .union([z.number().int().min(1).max(65535), z.string().regex(/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/)])
      .optional(),
    endPort: z.number().int().min(1).max(65535).optional(),
  })
  .refine(
    (port) => port.endPort === undefined || (typeof port.port === "number" && port.endPort >= port.port),
    { message: "endPort needs a numeric port not above it" },
  );
const networkPolicySchema = z.looseObject({
  apiVersion: z.literal("networking.k8s.io/v1").default("networking.k8s.io/v1"),
  kind: z.literal("NetworkPolicy").default("NetworkPolicy"),
  metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().min(1) }),
  spec: z.object({
    podSelector: selectorSchema,
    policyTypes: z.array(z.enum(["Ingress", "Egress"])).optional(),
    ingress: z
      .array(z.object({ from: z.array(peerSchema).optional(), ports: z.array(portSchema).optional() }))
      .optional(),
    egress: z
      .array(z.object({ to: z.array(peerSchema).optional(), ports: z.array(portSchema).optional() }))
      .optional(),
  }),
});

/** A policy as the schema leaves it: the one type the compiler and the evaluator read. */
export type NetworkPolicy = z.output<typeof networkPolicySchema>;
export type LabelSelector = z.output<typeof selectorSchema>;
export type PolicyPeer = z.output<typeof peerSchema>;
export type PolicyPort = z.output<typeof portSchema>;

/** Checks a policy object from the API; a UserError names the field, the value and the fix. */
export function parseNetworkPolicy(raw: unknown): NetworkPolicy {
  const result = networkPolicySchema.safeParse(raw);
  if (result.success) return result.data;
  throw new UserError(
    result.error.issues.map((issue) => ({
      path: formatPath(issue.path),
      message: issue.message,
      fix: "correct the NetworkPolicy as the networking.k8s.io/v1 API documents it",
    })),
  );
}
