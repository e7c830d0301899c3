// Pure planning of one iptables transaction: from the rules we want and what `iptables-save` shows,
// the `iptables-restore --noflush` payload that makes our chains and jumps right (and nothing else),
// with the drift it repairs. The same for the cleanup.
//
// iptables-restore commits table by table, so a payload of two tables is two transactions: a process
// killed between them leaves the first applied and the second not. The order is chosen so that every
// such point is at least as safe as before: on apply, filter (the metadata REJECTs, policy) before nat
// (masquerade, which lets pods out); on cleanup the reverse, pods lose their way out before their guard.
import type { ChainSet, JumpRule } from "./chain-set.ts";
import { chainRules, parseSave, ruleTarget, type Tables } from "./save.ts";

type RuleRepairKind = "chain-missing" | "chain-changed" | "jump-missing" | "jump-duplicated" | "jump-stale";

export interface RuleRepair {
  kind: RuleRepairKind;
  table: string;
  chain: string;
}

export interface RulePlan {
  /** undefined when the node already matches. */
  payload: string | undefined;
  repairs: RuleRepair[];
}

export function planRules(desired: ChainSet, current: Tables): RulePlan {
  const wanted = parseSave(desired.chains);
  const repairs: RuleRepair[] = [];
  const sections = new Map<string, string[]>();
  const section = (table: string) => {
    let lines = sections.get(table);
    if (!lines) sections.set(table, (lines = []));
    return lines;
  };

  for (const [table, { chains }] of wanted) {
    for (const [chain, rules] of chains) {
      const present = chainRules(current, table, chain);
      if (present === undefined) repairs.push({ kind: "chain-missing", table, chain });
      else if (!sameRules(present, rules)) repairs.push({ kind: "chain-changed", table, chain });
    }
  }
  const chainsRepaired = repairs.length > 0;

  const jumpLines = new Map<string, string[]>();
  for (const jump of desired.jumps) {
    const fix = planJump(jump, chainRules(current, jump.table, jump.chain) ?? []);
    if (!fix) continue;
    repairs.push({ kind: fix.kind, table: jump.table, chain: jump.chain });
    jumpLines.set(jump.table, [...(jumpLines.get(jump.table) ?? []), ...fix.lines]);
  }
  if (repairs.length === 0) return { payload: undefined, repairs };

  // Our chains are declared (which flushes them) and refilled whenever anything is repaired, so that
  // a jump never points at a chain that does not exist yet; other chains are only touched by -D/-I/-A.
  if (chainsRepaired) {
    for (const [table, { chains }] of wanted) {
      const lines = section(table);
      for (const chain of chains.keys()) lines.push(`:${chain} - [0:0]`);
      for (const [chain, rules] of chains) for (const rule of rules) lines.push(`-A ${chain} ${rule}`);
    }
  }
  for (const [table, lines] of jumpLines) section(table).push(...lines);
  return { payload: render(sections, APPLY_ORDER), repairs };
}

function planJump(jump: JumpRule, rules: string[]): { kind: RuleRepairKind; lines: string[] } | undefined {
  const text = jump.spec.join(" ");
  const target = ruleTarget(text);
  const ours = rules.filter((rule) => ruleTarget(rule) === target);
  if (ours.length === 1 && ours[0] === text) return undefined;
  const kind: RuleRepairKind =
    ours.length === 0
      ? "jump-missing"
      : ours.every((rule) => rule === text)
        ? "jump-duplicated"
        : "jump-stale";
  // Delete every copy and add one back, so the survivor sits where the rule says (first or last).
  const lines = ours.map((rule) => `-D ${jump.chain} ${rule}`);
  lines.push(jump.position === "first" ? `-I ${jump.chain} 1 ${text}` : `-A ${jump.chain} ${text}`);
  return { kind, lines };
}

/** Removes every rule that jumps into one of our chains, then our chains; undefined when none is left. */
export function planCleanup(owned: ChainSet["owned"], current: Tables): string | undefined {
  const sections = new Map<string, string[]>();
  for (const [table, names] of Object.entries(owned)) {
    const chains = current.get(table)?.chains;
    if (!chains) continue;
    const ownedHere = new Set(names.filter((name) => chains.has(name)));
    const lines: string[] = [];
    for (const [chain, rules] of chains) {
      if (ownedHere.has(chain)) continue;
      for (const rule of rules) if (ownedHere.has(ruleTarget(rule) ?? "")) lines.push(`-D ${chain} ${rule}`);
    }
    for (const chain of ownedHere) lines.push(`-F ${chain}`);
    for (const chain of ownedHere) lines.push(`-X ${chain}`);
    if (lines.length > 0) sections.set(table, lines);
  }
  return sections.size > 0 ? render(sections, [...APPLY_ORDER].reverse()) : undefined;
}

/** Guards before the paths they guard; tables not listed (none today) go last, in their own order. */
const APPLY_ORDER = ["filter", "nat"];

function render(sections: Map<string, string[]>, order: readonly string[]): string {
  const rank = (table: string) => (order.includes(table) ? order.indexOf(table) : order.length);
  const lines: string[] = [];
  const tables = [...sections.keys()].sort((a, b) => rank(a) - rank(b));
  for (const table of tables) lines.push(`*${table}`, ...sections.get(table)!, "COMMIT");
  return `${lines.join("\n")}\n`;
}

function sameRules(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((rule, index) => rule === b[index]);
}
