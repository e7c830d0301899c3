// What a node holds that the product may change, read in its namespace, to compare a node before
// install with the same node after uninstall: every iptables rule and chain (legacy, the backend the
// testbed's agents use), links, addresses, routes, ip_forward and the files of its CNI conf dir.
import { readdir } from "node:fs/promises";
import { run } from "../../sys/exec.ts";

export type NodeState = Record<string, string[]>;

export async function readNodeState(ns: string, confDir: string): Promise<NodeState> {
  const inNs = async (argv: string[]) => (await run("ip", ["netns", "exec", ns, ...argv])).stdout;
  const lines = (text: string) => text.split("\n").filter((line) => line.trim() !== "");
  return {
    iptables: iptablesContent(await inNs(["iptables-legacy-save"])),
    links: lines(await inNs(["ip", "-o", "link", "show"])).map((line) => line.split(":")[1]!.trim()),
    addresses: lines(await inNs(["ip", "-o", "-4", "address", "show"])).map((line) =>
      line.replace(/\\.*$/, ""),
    ),
    routes: lines(await inNs(["ip", "-4", "route", "show", "table", "all"])),
    ipForward: lines(await inNs(["sysctl", "-n", "net.ipv4.ip_forward"])),
    confDir: await readdir(confDir).catch(() => []),
  };
}

/**
 * The rules and chains of an iptables-save, each headed by its table. A table's header and its
 * built-in chains at policy ACCEPT say nothing: the kernel lists a table only once something used
 * it, so an unused nat table and an emptied one are the same ruleset.
 */
function iptablesContent(save: string): string[] {
  let table = "";
  const content: string[] = [];
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1);
    else if (line.startsWith("-A ") || (line.startsWith(":") && !/^:[A-Z]+ ACCEPT/.test(line)))
      content.push(`${table} ${line.replace(/ \[\d+:\d+\]$/, "")}`);
  }
  return content;
}

/** Every line one state has and the other lacks, named by its kind ("+" after, "-" before). */
export function stateDifferences(before: NodeState, after: NodeState): string[] {
  const differences: string[] = [];
  for (const kind of Object.keys(before)) {
    const was = new Set(before[kind]);
    const now = new Set(after[kind]);
    for (const line of now) if (!was.has(line)) differences.push(`${kind} + ${line}`);
    for (const line of was) if (!now.has(line)) differences.push(`${kind} - ${line}`);
  }
  return differences;
}
