// Sets of addresses as lists of CIDRs: what NetworkPolicy peers become (an ipBlock minus its excepts,
// pods selected together), since iptables matches one CIDR per rule. Integer arithmetic on cidr.ts.
import { containsCidr, containsIp, isIPv4, lastAddress, overlaps, parseIp, size, type Cidr } from "./cidr.ts";

/**
 * An IPv4 CIDR as the Kubernetes API accepts it: host bits allowed (the kernel and iptables ignore
 * them, and so do we), a bare address taken as /32. undefined for IPv6 (it matches no IPv4 traffic).
 */
export function parseLooseCidr(text: string): Cidr | undefined {
  if (text.includes(":")) return undefined;
  const [address = "", bits = "32"] = text.split("/");
  if (!isIPv4(address)) return undefined;
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return { base: (parseIp(address) & mask) >>> 0, prefix };
}

/** `outer` minus every except, as a list of CIDRs sorted by address. */
export function subtractCidrs(outer: Cidr, excepts: readonly Cidr[]): Cidr[] {
  let pieces = [outer];
  for (const except of excepts) {
    const next: Cidr[] = [];
    for (const piece of pieces) {
      if (!overlaps(piece, except)) next.push(piece);
      else if (containsCidr(except, piece)) continue;
      else {
        // except lies inside piece: split piece in halves until the except is cut out exactly.
        let current = piece;
        while (current.prefix < except.prefix) {
          const low = { base: current.base, prefix: current.prefix + 1 };
          const high = { base: current.base + size(low), prefix: current.prefix + 1 };
          const [keep, descend] = containsCidr(low, except) ? [high, low] : [low, high];
          next.push(keep);
          current = descend;
        }
      }
    }
    pieces = next;
  }
  return pieces.sort((a, b) => a.base - b.base || a.prefix - b.prefix);
}

/**
 * The fewest CIDRs covering exactly the same addresses: nested blocks dropped, sibling halves joined
 * (pods of one node block selected together become one rule).
 */
export function aggregateCidrs(cidrs: readonly Cidr[]): Cidr[] {
  const sorted = [...cidrs].sort((a, b) => a.base - b.base || a.prefix - b.prefix);
  const out: Cidr[] = [];
  for (const cidr of sorted) {
    const last = out.at(-1);
    // Sorted by base, CIDRs are nested or disjoint: only the last kept block can contain this one.
    if (last && cidr.base <= lastAddress(last)) continue;
    out.push(cidr);
    for (;;) {
      const high = out.at(-1)!;
      const low = out.at(-2);
      const siblings =
        low &&
        low.prefix === high.prefix &&
        low.prefix > 0 &&
        (low.base / size(low)) % 2 === 0 &&
        low.base + size(low) === high.base;
      if (!siblings) break;
      out.splice(-2, 2, { base: low.base, prefix: low.prefix - 1 });
    }
  }
  return out;
}

/** Single addresses as /32s, aggregated. */
export function hostCidrs(ips: readonly number[]): Cidr[] {
  return aggregateCidrs(ips.map((base) => ({ base, prefix: 32 })));
}

/** Whether `ip` lies in one of `cidrs`. */
export function inAny(cidrs: readonly Cidr[], ip: number): boolean {
  return cidrs.some((cidr) => containsIp(cidr, ip));
}
