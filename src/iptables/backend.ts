// Which iptables the node's kernel rules live in (legacy x_tables or nf_tables), decided the way
// kube-proxy's iptables wrapper decides: kubelet's marker chains first, then whichever holds more
// rules. Writing our rules into the other backend would leave them invisible to the node's traffic.
import { realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Runner } from "../sys/exec.ts";

export type BackendName = "legacy" | "nft";

export interface Backend {
  name: BackendName;
  save: string;
  restore: string;
}

export function backend(name: BackendName): Backend {
  return { name, save: `iptables-${name}-save`, restore: `iptables-${name}-restore` };
}

/** Chains kubelet creates in the mangle table of the backend the node uses. */
const KUBELET_MARKERS = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) /m;

export interface Detection {
  backend: Backend;
  reason: string;
}

/**
 * `fallback` decides when neither backend holds a rule or a table (a node without kubelet, e.g. a testbed):
 * kube-proxy's wrapper takes nft there; callers pass what the node's `iptables` command points to.
 */
export async function detectBackend(runner: Runner, fallback: BackendName): Promise<Detection> {
  const [legacy, nft] = await Promise.all([dump(runner, "legacy"), dump(runner, "nft")]);
  if (nft === undefined && legacy === undefined) {
    throw new Error("neither iptables-legacy-save nor iptables-nft-save works on this node");
  }
  if (nft === undefined) return { backend: backend("legacy"), reason: "iptables-nft-save is unavailable" };
  if (legacy === undefined) return { backend: backend("nft"), reason: "iptables-legacy-save is unavailable" };
  for (const [name, text] of [
    ["nft", nft],
    ["legacy", legacy],
  ] as const) {
    if (KUBELET_MARKERS.test(text))
      return { backend: backend(name), reason: "kubelet's marker chains are there" };
  }
  // Rules decide; with no rules anywhere, the backend whose tables the kernel has registered (legacy
  // lists only tables its modules created, nft only tables someone made) is the one in use.
  const score = (text: string) => [count(text, "-"), count(text, "*")] as const;
  const [legacyRules, legacyTables] = score(legacy);
  const [nftRules, nftTables] = score(nft);
  if (legacyRules !== nftRules) {
    const name = legacyRules > nftRules ? "legacy" : "nft";
    return {
      backend: backend(name),
      reason: `${name} holds more rules (legacy ${legacyRules}, nft ${nftRules})`,
    };
  }
  if (legacyTables !== nftTables) {
    const name = legacyTables > nftTables ? "legacy" : "nft";
    return {
      backend: backend(name),
      reason: `no rules; ${name} has more tables (legacy ${legacyTables}, nft ${nftTables})`,
    };
  }
  return {
    backend: backend(fallback),
    reason: `no rules or tables in either backend; the node's iptables is ${fallback}`,
  };
}

async function dump(runner: Runner, name: BackendName): Promise<string | undefined> {
  try {
    const result = await runner(backend(name).save, [], { timeoutMs: 10_000 });
    return result.stdout;
  } catch {
    return undefined;
  }
}

function count(save: string, prefix: string): number {
  return save.split("\n").filter((line) => line.startsWith(prefix)).length;
}

/** What the `iptables` command on PATH is (Debian's alternatives link to xtables-legacy-multi or -nft-multi). */
export async function commandBackend(path = process.env.PATH ?? ""): Promise<BackendName> {
  for (const dir of path.split(":").filter(Boolean)) {
    const target = await realpath(join(dir, "iptables")).catch(() => undefined);
    if (target) return target.includes("legacy") ? "legacy" : "nft";
  }
  return "nft";
}
