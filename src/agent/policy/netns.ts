// Finds each pod's network namespace without a CRI client: containerd (and the testbed) pin every
// sandbox's namespace under /run/netns (= /var/run/netns), and the pod's IP says which one is whose.
// Reading the addresses of every namespace costs one `ip -all netns exec` (a program start per
// namespace inside it); the answer is kept and read again only when a pod's IP is not in it, or (for
// fail-closed) when the directory's listing changed.
import { watch } from "node:fs";
import { readdir } from "node:fs/promises";
import type { Runner } from "../../sys/exec.ts";

export interface NetnsLocator {
  /** The namespace holding each of `ips` that is found; refreshes its view when one is missing. */
  locate(ips: readonly string[]): Promise<Map<string, string>>;
  /**
   * Every pinned namespace by name, with its IPv4 addresses (none yet while CNI ADD runs); read again
   * only when the directory's listing changed since the last call.
   */
  sandboxes(): Promise<Map<string, string[]>>;
  /** Forgets a namespace (e.g. a restore into it failed because it is gone). */
  forget(netns: string): void;
}

/**
 * `ip -all netns exec ip -4 -o addr show` prints a `netns: NAME` line before each namespace's
 * addresses; loopback is left out. An address seen in two namespaces keeps the first one.
 */
export function parseAllNetnsAddresses(output: string): Map<string, string> {
  const byIp = new Map<string, string>();
  let netns: string | undefined;
  for (const line of output.split("\n")) {
    const header = /^netns: (\S+)$/.exec(line);
    if (header) {
      netns = header[1];
      continue;
    }
    const address = /^\d+:\s+(\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\//.exec(line);
    if (netns && address && address[1] !== "lo" && !byIp.has(address[2]!)) byIp.set(address[2]!, netns);
  }
  return byIp;
}

/** Where containerd (and `ip netns`) pin the namespaces. */
const NETNS_DIR = "/run/netns";

/**
 * Calls `onChange` whenever a namespace is pinned or removed under `dir` (inotify): a sandbox exists
 * before its CNI ADD, so fail-closed can isolate it before the pod is in the API. Returns the stop.
 */
export function watchSandboxes(onChange: () => void, dir = NETNS_DIR): () => void {
  try {
    const watcher = watch(dir, { persistent: false }, onChange);
    watcher.on("error", () => watcher.close());
    return () => watcher.close();
  } catch {
    // No such directory yet (no sandbox since boot): the resync still finds the first ones.
    return () => undefined;
  }
}

export function netnsLocator(runner: Runner, dir = NETNS_DIR): NetnsLocator {
  let byIp = new Map<string, string>();
  let listed = "";
  let names: string[] = [];
  const scan = async () => {
    names = (await readdir(dir).catch(() => [])).sort();
    listed = names.join("\n");
    // A namespace whose `ip` fails (e.g. removed meanwhile) makes the exit code non-zero; the others
    // are still listed.
    const result = await runner("ip", ["-all", "netns", "exec", "ip", "-4", "-o", "addr", "show"], {
      okCodes: [0, 1, 255],
      timeoutMs: 60_000,
    });
    byIp = parseAllNetnsAddresses(result.stdout);
  };
  return {
    async locate(ips) {
      if (ips.some((ip) => !byIp.has(ip))) await scan();
      return new Map(ips.flatMap((ip) => (byIp.has(ip) ? [[ip, byIp.get(ip)!] as const] : [])));
    },
    async sandboxes() {
      const now = (await readdir(dir).catch(() => [])).sort().join("\n");
      if (now !== listed) await scan();
      const found = new Map<string, string[]>(names.map((name) => [name, []]));
      for (const [ip, name] of byIp) found.get(name)?.push(ip);
      return found;
    },
    forget(netns) {
      for (const [ip, name] of byIp) if (name === netns) byIp.delete(ip);
    },
  };
}
