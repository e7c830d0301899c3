// Parsing `iptables-save` output: per table, each chain's rules as iptables-save prints them.
interface Table {
  /** Chain name → the rules that `-A` that chain, without the `-A CHAIN ` prefix, in order. */
  chains: Map<string, string[]>;
}

export type Tables = Map<string, Table>;

export function parseSave(text: string): Tables {
  const tables: Tables = new Map();
  let table: Table | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) {
      table = { chains: new Map() };
      tables.set(line.slice(1).trim(), table);
    } else if (line.startsWith(":") && table) {
      table.chains.set(line.slice(1).split(" ")[0]!, []);
    } else if (line.startsWith("-A ") && table) {
      const [, chain = "", ...rest] = line.split(" ");
      const rules = table.chains.get(chain) ?? [];
      rules.push(rest.join(" "));
      table.chains.set(chain, rules);
    }
  }
  return tables;
}

/** The rules of `chain` in `table`, or undefined when the chain does not exist. */
export function chainRules(tables: Tables, table: string, chain: string): string[] | undefined {
  return tables.get(table)?.chains.get(chain);
}

/** The target of a rule (`-j X` or `-g X`), as iptables-save prints it. */
export function ruleTarget(rule: string): string | undefined {
  return / -[jg] (\S+)/.exec(` ${rule}`)?.[1];
}
