// The cluster spec: the one description of a cluster's pod network that everything is computed from.
// The zod schema is the single source of truth; types are inferred from it and the JSON Schema for
// editors is generated from it (npm run schema).
import { z } from "zod";
import { type Cidr, containsCidr, containsIp, isIPv4, parseCidr, parseIp } from "../net/cidr.ts";
import type { Finding } from "../errors/user-error.ts";
import {
  azureName,
  cidr,
  cidrOrIp,
  image,
  interfaceName,
  ip,
  listenAddress,
  matching,
  resourceGroup,
  uuid,
} from "./canonical.ts";
import {
  nodeIpFindings,
  nodeSubnetFindings,
  overlayPoolFindings,
  publicDestinationFindings,
  rangeFindings,
  serviceCidrFindings,
} from "./address-policy.ts";
import { RESYNC_SECONDS, ROUTE_TABLE_LIMIT, SPEC_CNI_VERSIONS } from "./limits.ts";
import { podMtu } from "./mtu.ts";

function fix(text: string) {
  return { params: { fix: text } };
}

/** "nodes[1].block" → ["nodes", 1, "block"], so policy findings carry the same path as zod's own. */
function parsePath(path: string): (string | number)[] {
  return path
    .split(/[.[\]]+/)
    .filter(Boolean)
    .map((key) => (/^\d+$/.test(key) ? Number(key) : key));
}

const DEFAULT_IMAGE = "ghcr.io/aks-ipvlan/aks-ipvlan:0.1.0";

/** Kubernetes' node names are DNS-1123 subdomains: dot-separated labels of at most 63 characters. */
const dnsSubdomain = matching(
  /^(?=.{1,253}$)(?!.*[^.]{64})[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
  "not a valid Kubernetes node name (a DNS-1123 subdomain)",
  "use at most 253 characters of dot-separated labels, each 1 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
);

const NodeSchema = z.strictObject({
  name: dnsSubdomain,
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
    masterInterface: interfaceName.default("eth0"),
    mode: z
      .string()
      .refine((mode) => mode === "l3s", {
        message:
          "only ipvlan mode l3s is supported: l2 bypasses the node's iptables (no masquerade, no services) and l3 skips netfilter for pod traffic; all ipvlan devices on one master share one mode",
        ...fix('set mode: "l3s" or remove the field'),
      })
      .meta({ enum: ["l3s"] })
      .default("l3s"),
    mtu: z
      .number()
      .int()
      .min(576)
      .max(9000)
      .optional()
      .describe(
        "The pods' MTU; unset: the master interface's (vnet), or routing.vxlan.nodeMtu minus the 50 bytes of VXLAN headers (vxlan).",
      ),
    routing: z
      .strictObject({
        mode: z
          .enum(["vnet", "vxlan"])
          .default("vnet")
          .describe(
            "How pods on different nodes reach each other: vnet, through the Azure route table (one route per block, next hop the node; needs NIC IP forwarding); vxlan, through a VXLAN overlay between the nodes (no Azure API, no route table; pod traffic leaving the pool is masqueraded).",
          ),
        routeTableLimit: z
          .number()
          .int()
          .min(1)
          .default(ROUTE_TABLE_LIMIT)
          .describe("Routes one Azure route table holds (vnet); every block needs one."),
        vxlan: z
          .strictObject({
            vni: z.number().int().min(1).max(16_777_215).default(4096),
            port: z.number().int().min(1).max(65_535).default(4789),
            nodeMtu: z
              .number()
              .int()
              .min(1280)
              .max(9000)
              .default(1500)
              .describe("The nodes' NIC MTU (Azure VNet: 1500); the tunnel takes 50 bytes of it."),
          })
          .default({ vni: 4096, port: 4789, nodeMtu: 1500 }),
      })
      .default({
        mode: "vnet",
        routeTableLimit: ROUTE_TABLE_LIMIT,
        vxlan: { vni: 4096, port: 4789, nodeMtu: 1500 },
      }),
    cniVersion: z
      .enum(SPEC_CNI_VERSIONS, {
        message:
          "unsupported CNI version: the shipped ipvlan, host-local and portmap plugins accept at most 1.0.0",
        ...fix("use 1.0.0 (or 0.4.0 for old runtimes)"),
      })
      .default("1.0.0"),
    masquerade: z
      .strictObject({
        nonMasqueradeCIDRs: z
          .array(cidr)
          .optional()
          .describe(
            "Destinations pods reach with their own address, besides the node subnet and the pod pool (always included, so pod to pod keeps its source).",
          ),
        allowPublicDestinations: z
          .boolean()
          .default(false)
          .describe(
            "Allow nonMasqueradeCIDRs outside private space (RFC 1918, 100.64.0.0/10): only for destinations that route pod addresses back (a peered network, a VPN).",
          ),
        randomFully: z.boolean().default(true),
        masqLinkLocal: z.boolean().default(false),
      })
      .default({ randomFully: true, masqLinkLocal: false, allowPublicDestinations: false }),
    metadataAccess: z
      .strictObject({
        imds: z.enum(["block", "allow"]).default("block"),
      })
      .default({ imds: "block" })
      .describe("The wireserver (168.63.129.16 TCP 80/32526) is always closed to pods."),
    maxPodsPerNode: z.number().int().min(1).max(1000).optional().describe("The kubelet's --max-pods."),
    agent: z
      .strictObject({
        image: image.default(DEFAULT_IMAGE),
        resyncSeconds: z.number().int().min(RESYNC_SECONDS.min).max(RESYNC_SECONDS.max).default(10),
        listenAddress: listenAddress
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
            failClosed: z
              .boolean()
              .default(false)
              .describe(
                "A new pod starts isolated (only replies, loopback and its node) until the agent has computed its rules, instead of open for that window (about a second on a loaded node). Off by default, as Kubernetes documents the window: on, every new pod, selected or not, waits for the agent before it can connect.",
              ),
          })
          .default({ enabled: false, failClosed: false }),
      })
      .default({
        image: DEFAULT_IMAGE,
        resyncSeconds: 10,
        listenAddress: "127.0.0.1:9464",
        leakGraceSeconds: 300,
        policy: { enabled: false, failClosed: false },
      }),
    controller: z
      .strictObject({
        image: image.default(DEFAULT_IMAGE),
        releaseGraceSeconds: z.number().int().min(0).default(600),
        routeTable: z
          .strictObject({
            subscriptionId: uuid,
            resourceGroup,
            name: azureName,
          })
          .optional(),
        enableIpForwarding: z.boolean().default(false),
        azureClientId: uuid
          .optional()
          .describe(
            "Client ID of the managed identity the controller uses through Azure workload identity; it needs Network Contributor on the route table. Unset: no workload identity wiring.",
          ),
      })
      .default({
        image: DEFAULT_IMAGE,
        releaseGraceSeconds: 600,
        enableIpForwarding: false,
      }),
  })
  .superRefine((spec, ctx) => {
    const report = (findings: Finding[]) => {
      for (const finding of findings) {
        ctx.addIssue({
          code: "custom",
          path: parsePath(finding.path),
          message: finding.message,
          input: finding.value,
          params: { fix: finding.fix },
        });
      }
    };
    // Fields that failed their own check are already reported; the policy looks at the rest.
    const parsed = (text: unknown): Cidr | undefined => {
      try {
        return typeof text === "string" ? parseCidr(text) : undefined;
      } catch {
        return undefined;
      }
    };
    const subnet = parsed(spec.nodeSubnet);
    if (subnet) report(nodeSubnetFindings(subnet));
    (spec.podPool ?? []).forEach((text, index) => {
      const pool = parsed(text);
      if (pool) report(rangeFindings(`podPool[${index}]`, pool, "pod pool"));
    });
    (spec.masquerade.nonMasqueradeCIDRs ?? []).forEach((text, index) => {
      const range = parsed(text);
      if (!range) return;
      const path = `masquerade.nonMasqueradeCIDRs[${index}]`;
      const findings = rangeFindings(path, range, "destination range");
      report(
        findings.length > 0 || spec.masquerade.allowPublicDestinations
          ? findings
          : publicDestinationFindings(path, range),
      );
    });
    spec.nodes.forEach((node, index) => {
      const block = parsed(node.block);
      if (block) report(rangeFindings(`nodes[${index}].block`, block, "node block"));
    });
    const service = parsed(spec.serviceCidr);
    if (service) {
      const others = [
        ...(subnet ? [{ path: "nodeSubnet", cidr: subnet }] : []),
        ...(spec.podPool ?? []).map((text, index) => ({ path: `podPool[${index}]`, cidr: parsed(text) })),
        ...spec.nodes.map((node, index) => ({ path: `nodes[${index}].block`, cidr: parsed(node.block) })),
      ].filter((other): other is { path: string; cidr: Cidr } => other.cidr !== undefined);
      report(serviceCidrFindings(service, others));
    }
    if (spec.routing.mode === "vxlan") report(vxlanFindings(spec, subnet, parsed));
    if (!subnet) return;
    spec.nodes.forEach((node, index) => {
      if (!isIPv4(node.ip)) return;
      if (!containsIp(subnet, parseIp(node.ip))) {
        ctx.addIssue({
          code: "custom",
          path: ["nodes", index, "ip"],
          message: `node IP is outside nodeSubnet ${spec.nodeSubnet}`,
          input: node.ip,
          params: { fix: "use the node's primary NIC address from the node subnet" },
        });
      } else {
        report(nodeIpFindings(`nodes[${index}].ip`, subnet, parseIp(node.ip)));
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
    // The pool is always kept (unless a listed range covers it): masquerading pod to pod would hide the
    // client's address from other nodes' pods and from NetworkPolicy. So is the node subnet in vnet
    // mode, where the VNet routes pod addresses; in vxlan mode it does not (only the tunnel carries
    // them), so pod traffic to other nodes' IPs and the rest of the VNet takes the node IP.
    const listed = spec.masquerade.nonMasqueradeCIDRs ?? [];
    const covered = (text: string) => listed.some((range) => containsCidr(parseCidr(range), parseCidr(text)));
    const kept = spec.routing.mode === "vxlan" ? podPool : [spec.nodeSubnet, ...podPool];
    const nonMasqueradeCIDRs = [...kept.filter((range) => !covered(range)), ...listed];
    return {
      ...spec,
      podPool,
      masquerade: { ...spec.masquerade, nonMasqueradeCIDRs: [...new Set(nonMasqueradeCIDRs)] },
    };
  });

/**
 * What vxlan mode cannot use: a pod pool inside the node subnet (or none, which means the node subnet),
 * an MTU the tunnel's headers do not fit under the node's, and the Azure settings of the controller,
 * which makes no Azure call in this mode (refused rather than ignored, so no one grants an identity
 * rights it never uses, or expects a route table to be kept).
 */
function vxlanFindings(
  spec: Pick<ClusterSpec, "mtu" | "routing" | "controller"> & { podPool?: string[] | undefined },
  subnet: Cidr | undefined,
  parsed: (text: unknown) => Cidr | undefined,
): Finding[] {
  const findings: Finding[] = [];
  if (spec.podPool === undefined) {
    findings.push({
      path: "podPool",
      message:
        "not set, so it is the node subnet, which routing.mode vxlan cannot use: the VNet delivers node-subnet addresses to Azure's NICs, never through the tunnel",
      fix: "set podPool to a range outside the node subnet and the rest of the VNet, e.g. podPool: [10.241.0.0/16]",
    });
  }
  (spec.podPool ?? []).forEach((text, index) => {
    const pool = parsed(text);
    if (pool && subnet) findings.push(...overlayPoolFindings(`podPool[${index}]`, pool, subnet));
  });
  const largest = podMtu({ routing: spec.routing, mtu: undefined })!;
  if (spec.mtu !== undefined && spec.mtu > largest) {
    findings.push({
      path: "mtu",
      value: spec.mtu,
      message: `larger than the tunnel carries: routing.vxlan.nodeMtu ${spec.routing.vxlan.nodeMtu} less the 50 bytes of VXLAN headers is ${largest}; larger pod packets would be dropped or fragmented`,
      fix: `set mtu to ${largest} or less, or remove it (vxlan mode then uses ${largest})`,
    });
  }
  const controller = spec.controller;
  const azure = "routing.mode vxlan makes no Azure call: the controller only allocates blocks";
  if (controller.routeTable) {
    findings.push({
      path: "controller.routeTable",
      value: controller.routeTable.name,
      message: `${azure}, it keeps no route table`,
      fix: "remove controller.routeTable (routes it made earlier stay in the table until deleted: az network route-table route list), or use routing.mode: vnet",
    });
  }
  if (controller.azureClientId) {
    findings.push({
      path: "controller.azureClientId",
      value: controller.azureClientId,
      message: `${azure} and needs no Azure identity`,
      fix: "remove controller.azureClientId (and the identity's Network Contributor role if nothing else uses it), or use routing.mode: vnet",
    });
  }
  if (controller.enableIpForwarding) {
    findings.push({
      path: "controller.enableIpForwarding",
      value: true,
      message: `${azure}: tunnel packets are addressed to the node itself, so no NIC needs IP forwarding`,
      fix: "remove controller.enableIpForwarding, or use routing.mode: vnet",
    });
  }
  return findings;
}

/** The spec as written (defaults optional). */
export type ClusterSpecInput = z.input<typeof ClusterSpecSchema>;
/** The spec after validation, with every default filled in. */
export type ClusterSpec = z.output<typeof ClusterSpecSchema>;
