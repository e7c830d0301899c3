// The cluster spec: the one description of a cluster's pod network that everything is computed from.
// The zod schema is the single source of truth; types are inferred from it and the JSON Schema for
// editors is generated from it (npm run schema).
import { z } from "zod";
import { type Cidr, containsIp, isIPv4, parseCidr, parseCidrOrIp, parseIp } from "../net/cidr.ts";

function fix(text: string) {
  return { params: { fix: text } };
}

function parsedBy(parse: (text: string) => unknown, fixText: string) {
  return z.string().superRefine((text, ctx) => {
    try {
      parse(text);
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        message: (error as Error).message,
        input: text,
        params: { fix: fixText },
      });
    }
  });
}

const cidr = parsedBy(parseCidr, "write it as a.b.c.d/n with the host part zero, e.g. 10.224.0.0/16");

const ip = z
  .string()
  .refine(isIPv4, { message: "not an IPv4 address", ...fix("write it as a.b.c.d, e.g. 10.224.0.4") });

const cidrOrIp = parsedBy(parseCidrOrIp, "write a.b.c.d or a.b.c.d/n");

/** A string matching `pattern`; a refinement (not .regex) so the issue carries its fix, with the
 * pattern kept in the generated JSON Schema for editors. */
function matching(pattern: RegExp, message: string, fixText: string) {
  return z
    .string()
    .refine((text) => pattern.test(text), { message, ...fix(fixText) })
    .meta({ pattern: pattern.source });
}

const dnsLabel = matching(
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
  "not a valid Kubernetes node name",
  "use at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
);

export const NodeSchema = z.strictObject({
  name: dnsLabel,
  ip: ip.describe("The node's primary NIC address (its InternalIP)."),
  block: cidr.optional().describe("Pins this node's block; otherwise the planner picks the lowest free one."),
});

export const ClusterSpecSchema = z
  .strictObject({
    apiVersion: z.literal("aks-ipvlan/v1").default("aks-ipvlan/v1"),
    // Azure route names have at most 80 characters: "aks-ipvlan-" + name + "-" + block takes up to 30 more.
    name: matching(
      /^(?=.{1,50}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
      "not a usable cluster name",
      "use at most 50 lower-case letters, digits and '-', starting and ending with a letter or digit",
    )
      .default("aks")
      .describe("Cluster name; part of every Azure route name."),
    nodeSubnet: cidr.describe("The Azure subnet of the nodes' NICs."),
    podPool: z
      .array(cidr)
      .min(1)
      .optional()
      .describe("CIDRs node blocks are carved from; default: the node subnet itself (the seed's layout)."),
    serviceCidr: cidr
      .default("10.0.0.0/16")
      .describe(
        "The cluster's Service CIDR (AKS default 10.0.0.0/16): NetworkPolicy lets pods reach it and checks the backend after DNAT.",
      ),
    blockSize: z
      .number()
      .int()
      .min(16, { message: "blocks larger than /16 are not supported" })
      .max(30, { message: "a block must hold at least 4 addresses" })
      .default(28)
      .describe("Prefix length of a node block."),
    maxBlocksPerNode: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe("Blocks a node may hold; the controller adds one when the node's pods fill its blocks."),
    nodes: z.array(NodeSchema).default([]),
    reserved: z.array(cidrOrIp).default([]).describe("Addresses or CIDRs never handed out to pods."),
    masterInterface: matching(
      /^[a-zA-Z0-9_.-]{1,15}$/,
      "not a Linux interface name",
      "use the node NIC's name, e.g. eth0",
    ).default("eth0"),
    mode: z
      .string()
      .refine((mode) => mode === "l3s", {
        message:
          "only ipvlan mode l3s is supported: l2 bypasses the node's iptables (no masquerade, no services) and l3 skips netfilter for pod traffic; all ipvlan devices on one master share one mode",
        ...fix('set mode: "l3s" or remove the field'),
      })
      .meta({ enum: ["l3s"] })
      .default("l3s"),
    mtu: z.number().int().min(576).max(9000).optional(),
    cniVersion: z
      .enum(["0.4.0", "1.0.0", "1.1.0"], {
        message: "unsupported CNI version",
        ...fix("use 1.0.0 (or 0.4.0 for old runtimes)"),
      })
      .default("1.0.0"),
    masquerade: z
      .strictObject({
        nonMasqueradeCIDRs: z
          .array(cidr)
          .optional()
          .describe("Destinations pods reach with their own address; default: node subnet + pod pool."),
        randomFully: z.boolean().default(true),
        masqLinkLocal: z.boolean().default(false),
      })
      .default({ randomFully: true, masqLinkLocal: false }),
    metadataAccess: z
      .strictObject({
        imds: z.enum(["block", "allow"]).default("block"),
      })
      .default({ imds: "block" })
      .describe("The wireserver (168.63.129.16 TCP 80/32526) is always closed to pods."),
    maxPodsPerNode: z.number().int().min(1).max(1000).optional().describe("The kubelet's --max-pods."),
    agent: z
      .strictObject({
        image: z.string().default("ghcr.io/aks-ipvlan/aks-ipvlan:0.1.0"),
        resyncSeconds: z.number().int().min(1).max(3600).default(10),
        listenAddress: matching(
          /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/,
          "not an IPv4 address and port",
          "write it as a.b.c.d:port, e.g. 127.0.0.1:9464 (kubelet probes reach it on the host network)",
        )
          .describe("Where the agent serves /healthz, /readyz and /metrics.")
          .default("127.0.0.1:9464"),
        leakGraceSeconds: z.number().int().min(0).default(300),
        policy: z
          .strictObject({
            enabled: z
              .boolean()
              .default(false)
              .describe(
                "Enforce NetworkPolicy in every pod's network namespace (needs the Kubernetes API: the agent watches policies, namespaces and pods).",
              ),
          })
          .default({ enabled: false }),
      })
      .default({
        image: "ghcr.io/aks-ipvlan/aks-ipvlan:0.1.0",
        resyncSeconds: 10,
        listenAddress: "127.0.0.1:9464",
        leakGraceSeconds: 300,
        policy: { enabled: false },
      }),
    controller: z
      .strictObject({
        image: z.string().default("ghcr.io/aks-ipvlan/aks-ipvlan:0.1.0"),
        releaseGraceSeconds: z.number().int().min(0).default(600),
        routeTable: z
          .strictObject({
            subscriptionId: z.string().min(1),
            resourceGroup: z.string().min(1),
            name: z.string().min(1),
          })
          .optional(),
        enableIpForwarding: z.boolean().default(false),
        azureClientId: z
          .string()
          .min(1)
          .optional()
          .describe(
            "Client ID of the managed identity the controller uses through Azure workload identity; it needs Network Contributor on the route table. Unset: no workload identity wiring.",
          ),
      })
      .default({
        image: "ghcr.io/aks-ipvlan/aks-ipvlan:0.1.0",
        releaseGraceSeconds: 600,
        enableIpForwarding: false,
      }),
  })
  .superRefine((spec, ctx) => {
    let subnet: Cidr;
    try {
      subnet = parseCidr(spec.nodeSubnet);
    } catch {
      return; // already reported by the field's own check
    }
    spec.nodes.forEach((node, index) => {
      if (isIPv4(node.ip) && !containsIp(subnet, parseIp(node.ip))) {
        ctx.addIssue({
          code: "custom",
          path: ["nodes", index, "ip"],
          message: `node IP is outside nodeSubnet ${spec.nodeSubnet}`,
          input: node.ip,
          params: { fix: "use the node's primary NIC address from the node subnet" },
        });
      }
    });
    for (const key of ["name", "ip"] as const) {
      const seen = new Map<string, number>();
      spec.nodes.forEach((node, index) => {
        const first = seen.get(node[key]);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["nodes", index, key],
            message: `duplicate node ${key} (also nodes[${first}])`,
            input: node[key],
            params: { fix: `give every node its own ${key}` },
          });
        } else {
          seen.set(node[key], index);
        }
      });
    }
  })
  .transform((spec) => {
    const podPool = spec.podPool ?? [spec.nodeSubnet];
    const nonMasqueradeCIDRs = spec.masquerade.nonMasqueradeCIDRs ?? [spec.nodeSubnet, ...podPool];
    return {
      ...spec,
      podPool,
      masquerade: { ...spec.masquerade, nonMasqueradeCIDRs: [...new Set(nonMasqueradeCIDRs)] },
    };
  });

/** The spec as written (defaults optional). */
export type ClusterSpecInput = z.input<typeof ClusterSpecSchema>;
/** The spec after validation, with every default filled in. */
export type ClusterSpec = z.output<typeof ClusterSpecSchema>;
export type NodeSpec = z.output<typeof NodeSchema>;
