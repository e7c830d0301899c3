// Rendering resolved policy (resolve.ts) as iptables rule lines, shared by a pod's payload
// (pod-firewall.ts) and the node's rules (node-rules.ts). Each line is written in the order
// iptables-save prints its parts, so what is saved and what is wanted compare as text.
import { comment as ourComment } from "../noderules/comment.ts";
import { formatCidr, parseIp } from "../net/cidr.ts";
import { PROTOCOLS } from "./model.ts";
import type { Clause, PortRange } from "./resolve.ts";

/** The xt_comment match takes at most 255 characters; policy names may be longer (253 + namespace). */
const MAX_COMMENT_TEXT = 255 - "aks-ipvlan: ".length;

export function comment(text: string): string[] {
  return ourComment(text.slice(0, MAX_COMMENT_TEXT));
}

/** Port matches for one rule each, in iptables-save's canonical form; multiport holds 15 slots. */
function portMatches(ports: PortRange[] | "any"): string[][] {
  if (ports === "any") return [[]];
  const matches: string[][] = [];
  for (const protocol of PROTOCOLS) {
    const sorted = ports.filter((port) => port.protocol === protocol).sort((a, b) => a.from - b.from);
    const merged: PortRange[] = [];
    for (const port of sorted) {
      const last = merged.at(-1);
      if (last && port.from <= last.to + 1) last.to = Math.max(last.to, port.to);
      else merged.push({ ...port });
    }
    const proto = protocol.toLowerCase();
    const text = (port: PortRange) => (port.from === port.to ? `${port.from}` : `${port.from}:${port.to}`);
    if (merged.length === 1 && merged[0]!.from === 1 && merged[0]!.to === 65535) {
      matches.push(["-p", proto]);
      continue;
    }
    let chunk: PortRange[] = [];
    let slots = 0;
    const flush = () => {
      if (chunk.length === 1) matches.push(["-p", proto, "-m", proto, "--dport", text(chunk[0]!)]);
      else if (chunk.length > 1)
        matches.push(["-p", proto, "-m", "multiport", "--dports", chunk.map(text).join(",")]);
      chunk = [];
      slots = 0;
    };
    for (const port of merged) {
      const cost = port.from === port.to ? 1 : 2;
      if (slots + cost > 15) flush();
      chunk.push(port);
      slots += cost;
    }
    flush();
  }
  return matches;
}

export interface RuleParts {
  chain: string;
  source?: string;
  destination?: string;
  match?: string[];
  note?: string;
  target: string;
}

/** One `-A` line, its parts in the order iptables-save prints them (so saved and wanted compare equal). */
export function rule(parts: RuleParts): string {
  let line = `-A ${parts.chain}`;
  if (parts.source) line += ` -s ${parts.source}`;
  if (parts.destination) line += ` -d ${parts.destination}`;
  if (parts.match && parts.match.length > 0) line += ` ${parts.match.join(" ")}`;
  if (parts.note) line += ` ${comment(parts.note).join(" ")}`;
  return `${line} -j ${parts.target}`;
}

/**
 * The rules of one clause: one per (peer address × protocol port group). `fixed` is the other end
 * (the pod, in node-side rules), `peerSide` says whether the peer is the source or the destination.
 */
export function clauseRules(
  clause: Clause,
  chain: string,
  peerSide: "source" | "destination",
  target: string,
  fixed: Partial<Pick<RuleParts, "source" | "destination">> = {},
): string[] {
  const addrs = clause.addrs === "any" ? [undefined] : clause.addrs.map(formatCidr);
  const matches = portMatches(clause.ports);
  const note = `policy ${clause.policy}`;
  const lines: string[] = [];
  for (const addr of addrs)
    for (const match of matches) lines.push(rule({ chain, ...fixed, [peerSide]: addr, match, note, target }));
  return lines;
}

export const ESTABLISHED = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"];

export function hostCidr(ip: string): string {
  return formatCidr({ base: parseIp(ip), prefix: 32 });
}

/** How a chain ends for traffic no policy allows: REJECT fails clients fast (TCP reset, ICMP). */
export function denyRules(parts: Omit<RuleParts, "target">): string[] {
  return [
    rule({ ...parts, match: ["-p", "tcp"], target: "REJECT --reject-with tcp-reset" }),
    rule({ ...parts, target: "REJECT --reject-with icmp-port-unreachable" }),
  ];
}
