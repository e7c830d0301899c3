// The safe-address policy: which CIDRs and addresses a spec may give the node subnet, the pod pool,
// pinned blocks and node IPs. It lives here, applied by the spec schema, so the planner, renderers,
// agent and controller only ever see a spec that passed it: no other module repeats these checks.
import {
  type Cidr,
  containsCidr,
  containsIp,
  formatCidr,
  formatIp,
  lastAddress,
  overlaps,
  parseCidr,
} from "../net/cidr.ts";
import type { Finding } from "../errors/user-error.ts";

/**
 * Ranges a pod or node must never be addressed from (RFC 6890's special-purpose registry, the entries
 * that are not forwardable or not unicast, plus Azure's platform endpoints). 169.254.169.254 (IMDS) is
 * inside 169.254.0.0/16 and 255.255.255.255 inside 240.0.0.0/4; they are listed so messages name them.
 */
const SPECIAL_RANGES: ReadonlyArray<{ cidr: Cidr; name: string }> = [
  ["0.0.0.0/8", '"this network" (RFC 6890)'],
  ["127.0.0.0/8", "loopback (RFC 6890)"],
  ["169.254.0.0/16", "link-local (RFC 6890)"],
  ["169.254.169.254/32", "Azure IMDS"],
  ["168.63.129.16/32", "the Azure wireserver and DNS"],
  ["224.0.0.0/4", "multicast (RFC 5771)"],
  ["255.255.255.255/32", "limited broadcast (RFC 6890)"],
  ["240.0.0.0/4", "reserved for future use (RFC 6890)"],
].map(([text, name]) => ({ cidr: parseCidr(text!), name: name! }));

/**
 * The widest range a VNet may hold here. A /8 is the largest private block (10.0.0.0/8, RFC 1918), and
 * anything wider necessarily spans public space and, at /0, every destination: as a non-masquerade
 * destination it turns masquerade off, as a pool it hands out 0.0.0.x.
 */
const WIDEST_PREFIX = 8;
/** Azure's smallest subnet: the five addresses it keeps leave three usable ones. */
const NARROWEST_SUBNET_PREFIX = 29;
/** Azure keeps the subnet's first four addresses (network, gateway, two DNS) and its last (broadcast). */
const AZURE_RESERVED_LOW = 4;

/** The special-purpose ranges `cidr` overlaps, named, e.g. "link-local (RFC 6890) and Azure IMDS". */
function specialRangesOverlapping(cidr: Cidr): string | undefined {
  const names = SPECIAL_RANGES.filter((special) => overlaps(special.cidr, cidr)).map(
    (special) => special.name,
  );
  return names.length === 0 ? undefined : names.join(" and ");
}

/** Problems with a range the VNet must route (node subnet, pod pool, pinned block, non-masquerade). */
export function rangeFindings(path: string, cidr: Cidr, purpose: string): Finding[] {
  const value = formatCidr(cidr);
  if (cidr.prefix < WIDEST_PREFIX) {
    return [
      {
        path,
        value,
        message: `/${cidr.prefix} is wider than any VNet range (at most /${WIDEST_PREFIX}, e.g. 10.0.0.0/8)`,
        fix: `use the ${purpose} the VNet really has, e.g. 10.224.0.0/16`,
      },
    ];
  }
  const special = specialRangesOverlapping(cidr);
  if (special === undefined) return [];
  return [
    {
      path,
      value,
      message: `overlaps ${special}: no VNet routes these addresses to a node`,
      fix: `use a ${purpose} from private address space (RFC 1918, e.g. 10.224.0.0/16)`,
    },
  ];
}

export function nodeSubnetFindings(cidr: Cidr): Finding[] {
  const findings = rangeFindings("nodeSubnet", cidr, "node subnet");
  if (cidr.prefix > NARROWEST_SUBNET_PREFIX) {
    findings.push({
      path: "nodeSubnet",
      value: formatCidr(cidr),
      message: `an Azure subnet is at least /${NARROWEST_SUBNET_PREFIX}`,
      fix: "use the node subnet as Azure shows it (az network vnet subnet show)",
    });
  }
  return findings;
}

/** Private and shared address space (RFC 1918, RFC 6598): no internet destination lies inside. */
const PRIVATE_RANGES: readonly Cidr[] = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
].map((text) => parseCidr(text));

/**
 * The Service CIDR: a range like the others (no special-purpose space, at most /8), and apart from
 * every address a pod or node has. NetworkPolicy lets pods reach it from their own namespace (the node
 * judges the backend after DNAT), so a Service CIDR covering the pod pool, a block or the node subnet
 * would let every pod reach those addresses unchecked.
 */
export function serviceCidrFindings(
  service: Cidr,
  others: ReadonlyArray<{ path: string; cidr: Cidr }>,
): Finding[] {
  const findings = rangeFindings("serviceCidr", service, "Service CIDR");
  for (const other of others) {
    if (!overlaps(service, other.cidr)) continue;
    findings.push({
      path: "serviceCidr",
      value: formatCidr(service),
      message: `overlaps ${other.path} ${formatCidr(other.cidr)}: NetworkPolicy lets pods reach the Service CIDR unchecked, so those addresses would be open to every pod (and AKS refuses a Service CIDR inside the VNet)`,
      fix: "set serviceCidr to the cluster's Service CIDR (az aks show --query networkProfile.serviceCidr), outside the node subnet and the pod pool",
    });
  }
  return findings;
}

/**
 * A non-masquerade destination outside private space turns masquerade off towards the internet: those
 * replies come back to pod addresses no one routes. Allowed only when asked for by name.
 */
export function publicDestinationFindings(path: string, cidr: Cidr): Finding[] {
  if (PRIVATE_RANGES.some((range) => containsCidr(range, cidr))) return [];
  return [
    {
      path,
      value: formatCidr(cidr),
      message:
        "reaches public (internet) addresses: pods would reach them with their own addresses, which no one routes back",
      fix: "list only private destinations (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10), or set masquerade.allowPublicDestinations: true if those destinations really route pod addresses back (a peered network, a VPN)",
    },
  ];
}

/** A node IP must be one Azure can give a NIC: not the subnet's first four addresses nor its last. */
export function nodeIpFindings(path: string, subnet: Cidr, ip: number): Finding[] {
  if (!containsIp(subnet, ip)) return [];
  const offset = ip - subnet.base;
  if (offset >= AZURE_RESERVED_LOW && ip !== lastAddress(subnet)) return [];
  const what =
    offset === 0
      ? "the subnet's network address"
      : ip === lastAddress(subnet)
        ? "the subnet's broadcast address"
        : "one of the addresses Azure keeps (gateway and DNS, .1 to .3 of the subnet)";
  return [
    {
      path,
      value: formatIp(ip),
      message: `${what}: Azure never gives it to a NIC`,
      fix: `use the node's NIC address, from ${formatIp(subnet.base + AZURE_RESERVED_LOW)} to ${formatIp(lastAddress(subnet) - 1)}`,
    },
  ];
}

/**
 * vxlan mode: nothing in Azure routes pod addresses (no route table), so the pool must lie apart from
 * the node subnet. Azure owns every address of that subnet: the VNet delivers a packet for one to the
 * NIC holding it (or drops it), never to a node's tunnel, and a NIC added later may be given it.
 */
export function overlayPoolFindings(path: string, pool: Cidr, subnet: Cidr): Finding[] {
  if (!overlaps(pool, subnet)) return [];
  return [
    {
      path,
      value: formatCidr(pool),
      message: `overlaps nodeSubnet ${formatCidr(subnet)}: in routing.mode vxlan pod addresses travel only inside the tunnel and the VNet never routes them, but the VNet delivers node-subnet addresses to the NICs Azure gives them (new nodes included), so pods there would be unreachable or collide`,
      fix: "use a pod pool outside the node subnet and the rest of the VNet, e.g. podPool: [10.241.0.0/16]",
    },
  ];
}
