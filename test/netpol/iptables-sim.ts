// A small interpreter of iptables-restore payloads (the filter table's subset the policy compiler
// writes): it applies `--noflush` transactions to a table state the way iptables-restore does, and
// judges a packet by walking the chains. Tests use it to run compiled rules against the reference
// evaluator without a kernel. Anything it does not understand is an error, never a silent match.
import { parseIp } from "../../src/net/cidr.ts";

interface SimRule {
  text: string;
  source?: { base: number; prefix: number };
  destination?: { base: number; prefix: number };
  inInterface?: string;
  outInterface?: string;
  protocol?: string;
  /** Destination ports as inclusive ranges (from --dport or --dports). */
  ports?: [number, number][];
  /** Each entry is one `--ctstate` list; all entries must match (ANDed), any state within one. */
  ctstates: string[][];
  target: string;
}

export interface SimTable {
  chains: Map<string, SimRule[]>;
}

const BUILTIN = ["INPUT", "OUTPUT", "FORWARD"];

export function emptyTable(): SimTable {
  return { chains: new Map(BUILTIN.map((chain) => [chain, []])) };
}

/** Splits a rule line into words; double quotes group words (as in `--comment "a b"`). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const match of line.matchAll(/"([^"]*)"|(\S+)/g)) out.push(match[1] ?? match[2]!);
  return out;
}

function cidr(text: string): { base: number; prefix: number } {
  const [address = "", bits = "32"] = text.split("/");
  const prefix = Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`bad prefix in ${text}`);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  const base = (parseIp(address) & mask) >>> 0;
  if (base !== parseIp(address))
    throw new Error(`host bits set in ${text} (iptables-save would print ${base})`);
  return { base, prefix };
}

function portRange(text: string): [number, number] {
  const [from, to = from] = text.split(":").map(Number);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from! < 1 || to! > 65535 || from! > to!)
    throw new Error(`bad port ${text}`);
  return [from!, to!];
}

function parseRule(args: string[]): SimRule {
  const rule: SimRule = { text: args.join(" "), ctstates: [], target: "" };
  const modules = new Set<string>();
  for (let index = 0; index < args.length; index++) {
    const option = args[index]!;
    const value = () => {
      const next = args[++index];
      if (next === undefined) throw new Error(`${option} needs a value in: ${rule.text}`);
      return next;
    };
    switch (option) {
      case "-s":
        rule.source = cidr(value());
        break;
      case "-d":
        rule.destination = cidr(value());
        break;
      case "-i":
        rule.inInterface = value();
        break;
      case "-o":
        rule.outInterface = value();
        break;
      case "-p":
        rule.protocol = value();
        if (!["tcp", "udp", "sctp"].includes(rule.protocol)) throw new Error(`protocol ${rule.protocol}`);
        break;
      case "-m":
        modules.add(value());
        break;
      case "--dport":
        if (!rule.protocol || !modules.has(rule.protocol))
          throw new Error(`--dport without -p/-m: ${rule.text}`);
        rule.ports = [portRange(value())];
        break;
      case "--dports": {
        if (!rule.protocol || !modules.has("multiport"))
          throw new Error(`--dports without multiport: ${rule.text}`);
        const list = value().split(",");
        const slots = list.reduce((sum, item) => sum + (item.includes(":") ? 2 : 1), 0);
        if (slots > 15) throw new Error(`multiport takes at most 15 ports: ${rule.text}`);
        rule.ports = list.map(portRange);
        break;
      }
      case "--ctstate":
        if (!modules.has("conntrack")) throw new Error(`--ctstate without -m conntrack: ${rule.text}`);
        rule.ctstates.push(value().split(","));
        break;
      case "--comment":
        if (!modules.has("comment")) throw new Error(`--comment without -m comment: ${rule.text}`);
        value();
        break;
      case "-j":
        rule.target = value();
        break;
      case "--reject-with":
        if (rule.target !== "REJECT") throw new Error(`--reject-with without -j REJECT: ${rule.text}`);
        if (!["tcp-reset", "icmp-port-unreachable"].includes(value()))
          throw new Error(`reject type in: ${rule.text}`);
        if (args[index] === "tcp-reset" && rule.protocol !== "tcp")
          throw new Error(`tcp-reset needs -p tcp: ${rule.text}`);
        break;
      default:
        throw new Error(`the simulator does not know ${option} in: ${rule.text}`);
    }
  }
  if (!rule.target) throw new Error(`no target: ${rule.text}`);
  return rule;
}

/** Applies one `iptables-restore --noflush` payload (filter table only) to `table`, atomically. */
export function applyRestore(table: SimTable, payload: string): void {
  const next: SimTable = { chains: new Map([...table.chains].map(([name, rules]) => [name, [...rules]])) };
  let inFilter = false;
  let committed = false;
  const chain = (name: string) => {
    const rules = next.chains.get(name);
    if (!rules) throw new Error(`no chain ${name}`);
    return rules;
  };
  for (const line of payload.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (line === "*filter") {
      inFilter = true;
      continue;
    }
    if (!inFilter) throw new Error(`line outside *filter: ${line}`);
    if (line === "COMMIT") {
      committed = true;
      inFilter = false;
      continue;
    }
    if (line.startsWith(":")) {
      const name = line.slice(1).split(" ")[0]!;
      // --noflush: a user chain is created or flushed; a built-in chain keeps its rules.
      if (!BUILTIN.includes(name)) next.chains.set(name, []);
      continue;
    }
    const [command, name = "", ...rest] = words(line);
    switch (command) {
      case "-A":
        chain(name).push(parseRule(rest));
        break;
      case "-I": {
        const position = /^\d+$/.test(rest[0] ?? "") ? Number(rest.shift()) : 1;
        chain(name).splice(position - 1, 0, parseRule(rest));
        break;
      }
      case "-D": {
        const rules = chain(name);
        const text = parseRule(rest).text;
        const at = rules.findIndex((rule) => rule.text === text);
        if (at < 0) throw new Error(`-D of a rule that is not there: ${line}`);
        rules.splice(at, 1);
        break;
      }
      case "-F":
        chain(name).length = 0;
        break;
      case "-X": {
        if (BUILTIN.includes(name)) throw new Error(`cannot delete built-in chain ${name}`);
        if (chain(name).length > 0) throw new Error(`chain ${name} is not empty`);
        for (const rules of next.chains.values())
          if (rules.some((rule) => rule.target === name))
            throw new Error(`chain ${name} is still referenced`);
        next.chains.delete(name);
        break;
      }
      default:
        throw new Error(`the simulator does not know: ${line}`);
    }
  }
  if (!committed) throw new Error("payload without COMMIT");
  for (const [name, rules] of next.chains)
    for (const rule of rules)
      if (!["ACCEPT", "DROP", "REJECT", "RETURN"].includes(rule.target) && !next.chains.has(rule.target))
        throw new Error(`rule in ${name} jumps to missing chain ${rule.target}`);
  table.chains = next.chains;
}

export interface SimPacket {
  source: string;
  destination: string;
  protocol: "tcp" | "udp" | "sctp";
  port: number;
  /** Conntrack states of the packet, e.g. ["NEW"], ["NEW", "DNAT"], ["ESTABLISHED"]. */
  states: string[];
  inInterface?: string;
  outInterface?: string;
}

function inCidr(ip: string, range: { base: number; prefix: number }): boolean {
  const value = parseIp(ip);
  return range.prefix === 0 || value >>> (32 - range.prefix) === range.base >>> (32 - range.prefix);
}

function matches(rule: SimRule, packet: SimPacket): boolean {
  if (rule.source && !inCidr(packet.source, rule.source)) return false;
  if (rule.destination && !inCidr(packet.destination, rule.destination)) return false;
  if (rule.inInterface && rule.inInterface !== packet.inInterface) return false;
  if (rule.outInterface && rule.outInterface !== packet.outInterface) return false;
  if (rule.protocol && rule.protocol !== packet.protocol) return false;
  if (rule.ports && !rule.ports.some(([from, to]) => packet.port >= from && packet.port <= to)) return false;
  return rule.ctstates.every((states) => states.some((state) => packet.states.includes(state)));
}

export interface SimVerdict {
  verdict: "ACCEPT" | "DROP";
  /** The rule that decided, or undefined for the built-in chain's policy. */
  rule?: string;
}

/** The fate of a packet in a built-in chain (policy ACCEPT). REJECT counts as DROP. */
export function traverse(table: SimTable, builtin: string, packet: SimPacket): SimVerdict {
  const walk = (name: string, depth: number): SimVerdict | undefined => {
    if (depth > 8) throw new Error("chain loop");
    for (const rule of table.chains.get(name) ?? []) {
      if (!matches(rule, packet)) continue;
      if (rule.target === "ACCEPT") return { verdict: "ACCEPT", rule: rule.text };
      if (rule.target === "DROP" || rule.target === "REJECT") return { verdict: "DROP", rule: rule.text };
      if (rule.target === "RETURN") return undefined;
      const result = walk(rule.target, depth + 1);
      if (result) return result;
    }
    return undefined;
  };
  return walk(builtin, 0) ?? { verdict: "ACCEPT" };
}
