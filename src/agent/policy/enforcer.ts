// Enforces NetworkPolicy for the pods of one node: compiles each local pod's firewall (src/policy)
// and applies it in the pod's own network namespace, plus the node's rules (ingress from other
// nodes, Service traffic after DNAT). Each pod's rules are one `iptables-restore --noflush` (one
// atomic transaction per pod); a pod is touched only when its compiled rules differ from what was
// last applied to it, so a change reaches only the pods it affects, or (at a resync, `verify`) when
// its namespace's filter table no longer holds them: drift is repaired, as the node reconcile does.
// The node's blocks and IP follow the node (`follow`). The restores of one sync run
// from a few `ip -batch` processes (`netns exec NS iptables-restore FILE` per line) instead of one
// program start per pod: starting a program from the agent costs far more than the restore itself
// on a busy node.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Runner } from "../../sys/exec.ts";
import { mapBounded } from "../../sys/bounded.ts";
import type { Backend } from "../../iptables/backend.ts";
import { syncRules } from "../../iptables/apply.ts";
import type { RuleRepair } from "../../iptables/sync.ts";
import { chainRules, parseSave } from "../../iptables/save.ts";
import {
  EGRESS_CHAIN,
  INGRESS_CHAIN,
  compilePodFirewalls,
  isolatedFirewall,
  type PodFirewall,
} from "../../policy/pod-firewall.ts";
import { compileNodeRules } from "../../policy/node-rules.ts";
import { podKey, type PodKey, type PolicyPod, type PolicyWorld } from "../../policy/model.ts";
import { parseCidr, parseIp } from "../../net/cidr.ts";
import { inAny } from "../../net/cidr-set.ts";
import type { NetnsLocator } from "./netns.ts";

export interface EnforcerOptions {
  node: string;
  nodeIP: string;
  /** ClusterIPs: let through in the pod's namespace, checked by the node after DNAT. */
  serviceCIDR?: string;
  /** The node's pod blocks: egress to them is judged in the pods' namespaces, the rest by the node. */
  podCIDRs: readonly string[];
  /** The cluster's pod pool: the Service ACCEPT must not cover it (defense in depth). */
  podPool?: readonly string[];
  /**
   * Fail-closed: a sandbox of this node (a pinned namespace with no address yet or one in podCIDRs)
   * that is no pod of the world yet starts isolated, and the node denies its traffic beyond the node,
   * until its own rules are computed.
   */
  failClosed?: boolean;
  /** Runs programs in the node's network namespace. */
  runner: Runner;
  backend: Backend;
  locator: NetnsLocator;
  /** A tmpfs directory for the restore payloads the batch reads. */
  stateDir: string;
  /** `ip -batch` processes in flight at once. */
  concurrency?: number;
}

export interface PodOutcome {
  pod: PodKey;
  netns?: string;
  ruleCount: number;
  error?: string;
}

export interface SyncReport {
  /** Pods whose rules were (re)applied in this sync. */
  applied: PodOutcome[];
  /** Local pods whose namespace was not found (not started yet, or host network). */
  unlocated: PodKey[];
  /** Fail-closed: sandboxes isolated in this sync because no pod of the world is theirs yet. */
  isolated: string[];
  failed: PodOutcome[];
  /** Local pods isolated in at least one direction, and the rules in force on this node. */
  enforcedPods: number;
  rulesProgrammed: number;
  /** Whether the node's rules changed and were applied. */
  nodeRulesApplied: boolean;
  /** Why the node's rules could not be applied (retried at the next sync). */
  nodeRulesError?: string;
  /** `verify`: what the kernel no longer held and was put back (pods by key, node chains and jumps). */
  repairs: { pods: PodKey[]; node: RuleRepair[] };
  durationMs: number;
  /** Of durationMs: compiling every local pod's rules, and applying (pods and node at once). */
  compileMs: number;
  applyMs: number;
}

interface Applied {
  netns: string;
  ip: string;
  firewall: PodFirewall;
}

interface Pending {
  /** The pod's key, or the namespace's name for a sandbox isolated before its pod is known. */
  key: string;
  ip?: string;
  netns: string;
  firewall: PodFirewall;
}

/** The node as the enforcer needs it: its IP and blocks, which change when the controller adds one. */
export interface EnforcedNode {
  nodeIP: string;
  podCIDRs: readonly string[];
}

export class PolicyEnforcer {
  readonly #options: EnforcerOptions;
  #node: EnforcedNode;
  /** What is in force in each local pod's namespace, as far as this process knows. */
  readonly #applied = new Map<PodKey, Applied>();
  #nodeRules?: { text: string; count: number };
  /** Fail-closed: namespaces holding the isolate payload (no pod of the world is theirs yet). */
  readonly #isolated = new Set<string>();

  constructor(options: EnforcerOptions) {
    this.#options = options;
    this.#node = { nodeIP: options.nodeIP, podCIDRs: options.podCIDRs };
  }

  /** Whether `node` differs from what the enforcer uses; the next sync takes it in. */
  follow(node: EnforcedNode): boolean {
    const same =
      node.nodeIP === this.#node.nodeIP && node.podCIDRs.join(",") === this.#node.podCIDRs.join(",");
    this.#node = { nodeIP: node.nodeIP, podCIDRs: [...node.podCIDRs] };
    return !same;
  }

  /**
   * Brings every local pod of `world` to its compiled rules; pods that left are forgotten. `verify`
   * reads back what the kernel holds (every pod's namespace and the node) and repairs what differs.
   */
  async sync(world: PolicyWorld, { verify = false }: { verify?: boolean } = {}): Promise<SyncReport> {
    const started = performance.now();
    const { node, serviceCIDR, podPool } = this.#options;
    const { nodeIP, podCIDRs } = this.#node;
    const local = world.pods.filter((pod) => pod.node === node);
    const firewalls = compilePodFirewalls(world, local, {
      nodeIPOf: () => nodeIP,
      podCIDRsOf: () => podCIDRs,
      ...(serviceCIDR ? { serviceCIDR } : {}),
      ...(podPool ? { podPool } : {}),
    });
    const compiled = performance.now();
    const keys = new Set(local.map(podKey));
    for (const key of this.#applied.keys()) if (!keys.has(key)) this.#applied.delete(key);
    const drifted = verify ? await this.#drifted() : [];

    const changed = local.filter((pod) => {
      const before = this.#applied.get(podKey(pod));
      return before?.ip !== pod.ip || before.firewall.restore !== firewalls.get(podKey(pod))!.restore;
    });
    const netnsOf = await this.#options.locator.locate(changed.map((pod) => pod.ip));
    const unlocated = changed.filter((pod) => !netnsOf.has(pod.ip)).map(podKey);
    const pending: Pending[] = changed.flatMap((pod) =>
      netnsOf.has(pod.ip)
        ? [
            {
              key: podKey(pod),
              ip: pod.ip,
              netns: netnsOf.get(pod.ip)!,
              firewall: firewalls.get(podKey(pod))!,
            },
          ]
        : [],
    );
    for (const item of pending) this.#isolated.delete(item.netns);
    const isolating = this.#options.failClosed ? await this.#newSandboxes(local) : [];
    pending.push(...isolating);
    const applying = performance.now();
    const [outcomes, nodeRules] = await Promise.all([
      this.#applyPods(pending),
      this.#applyNodeRules(world, local, verify).then(
        (result) => ({ ...result, error: undefined }),
        (error: unknown) => ({ applied: false, drift: [], error: (error as Error).message }),
      ),
    ]);

    let enforcedPods = 0;
    let rulesProgrammed = this.#nodeRules?.count ?? 0;
    for (const { firewall } of this.#applied.values()) {
      if (firewall.ingressIsolated || firewall.egressIsolated) enforcedPods++;
      rulesProgrammed += firewall.ruleCount;
    }
    return {
      applied: outcomes.filter((outcome) => !outcome.error && !this.#isolated.has(outcome.netns!)),
      unlocated,
      isolated: outcomes.filter((o) => !o.error && this.#isolated.has(o.netns!)).map((o) => o.netns!),
      failed: outcomes.filter((outcome) => outcome.error),
      enforcedPods,
      rulesProgrammed,
      nodeRulesApplied: nodeRules.applied,
      ...(nodeRules.error ? { nodeRulesError: nodeRules.error } : {}),
      repairs: { pods: drifted, node: nodeRules.drift },
      durationMs: Math.round(performance.now() - started),
      compileMs: Math.round(compiled - started),
      applyMs: Math.round(performance.now() - applying),
    };
  }

  /**
   * Fail-closed: this node's sandboxes that hold no pod of the world yet (no address yet, or one in the
   * node's blocks that no local pod has) and are not isolated already get the isolate payload.
   */
  async #newSandboxes(local: PolicyPod[]): Promise<Pending[]> {
    const { locator } = this.#options;
    const { podCIDRs, nodeIP } = this.#node;
    const known = new Set(local.map((pod) => pod.ip));
    const sandboxes = await locator.sandboxes();
    for (const netns of this.#isolated) if (!sandboxes.has(netns)) this.#isolated.delete(netns);
    const firewall = isolatedFirewall({ nodeIP });
    const pending: Pending[] = [];
    for (const [netns, ips] of sandboxes) {
      if (this.#isolated.has(netns) || ips.some((ip) => known.has(ip))) continue;
      if (ips.length > 0 && !ips.every((ip) => inAny(podCIDRs.map(parseCidr), parseIp(ip)))) continue;
      this.#isolated.add(netns);
      pending.push({ key: netns, netns, firewall });
    }
    return pending;
  }

  async #applyPods(pending: Pending[]): Promise<PodOutcome[]> {
    if (pending.length === 0) return [];
    const { stateDir, backend, runner } = this.#options;
    await mkdir(stateDir, { recursive: true });
    await Promise.all(
      pending.map((item) => writeFile(join(stateDir, `${item.netns}.rules`), item.firewall.restore)),
    );
    // Each `ip -batch` is a program start: a few pods share one, many are spread over `concurrency`.
    const chunks = split(pending, Math.min(this.#options.concurrency ?? 4, Math.ceil(pending.length / 8)));
    const results = await mapBounded(chunks, chunks.length, async (chunk) => {
      const lines = chunk.map(
        (item) =>
          `netns exec ${item.netns} ${backend.restore} --noflush --wait=5 ${join(stateDir, `${item.netns}.rules`)}`,
      );
      // -force: one pod's failure does not stop the others; each is named by its line number.
      const result = await runner("ip", ["-force", "-batch", "-"], {
        input: `${lines.join("\n")}\n`,
        okCodes: [0, 1],
        timeoutMs: 60_000,
      });
      const failedLines = new Set(
        [...result.stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => Number(m[1])),
      );
      return chunk.map((item, index): PodOutcome => {
        const key = item.key;
        if (failedLines.has(index + 1)) {
          // The namespace may be gone or reused: look it up again next time, and retry then.
          this.#options.locator.forget(item.netns);
          this.#applied.delete(key);
          this.#isolated.delete(item.netns);
          return { pod: key, netns: item.netns, ruleCount: 0, error: lastLines(result.stderr) };
        }
        if (item.ip) this.#applied.set(key, { netns: item.netns, ip: item.ip, firewall: item.firewall });
        return { pod: key, netns: item.netns, ruleCount: item.firewall.ruleCount };
      });
    });
    return results.flat();
  }

  /**
   * The local pods (and fail-closed sandboxes) whose namespace's filter table no longer holds what was
   * applied there: forgotten, so this sync applies them again. A namespace that is gone is forgotten
   * too (the pod is located again). One `ip -all netns exec` reads every namespace.
   */
  async #drifted(): Promise<PodKey[]> {
    const { runner, backend } = this.#options;
    const result = await runner("ip", ["-all", "netns", "exec", backend.save, "-t", "filter"], {
      okCodes: [0, 1, 255],
      timeoutMs: 60_000,
    });
    const saved = splitByNetns(result.stdout);
    const drifted: PodKey[] = [];
    for (const [key, applied] of this.#applied) {
      const held = saved.get(applied.netns);
      if (held !== undefined && holds(held, applied.firewall)) continue;
      this.#applied.delete(key);
      if (held === undefined) this.#options.locator.forget(applied.netns);
      else drifted.push(key);
    }
    const isolate = isolatedFirewall({ nodeIP: this.#node.nodeIP });
    for (const netns of this.#isolated) {
      const held = saved.get(netns);
      if (held !== undefined && holds(held, isolate)) continue;
      this.#isolated.delete(netns);
      if (held !== undefined) drifted.push(netns);
    }
    return drifted;
  }

  /**
   * The node's share (compileNodeRules): ingress from other nodes in filter INPUT (L3S delivers it
   * through the node, never through the pod's INPUT) and FORWARD (vxlan mode's tunnel), and Service
   * traffic after DNAT in filter OUTPUT. Applied when it changed, and compared with the node's tables when `verify` asks: what
   * differs then although the rules did not change is drift.
   */
  async #applyNodeRules(
    world: PolicyWorld,
    local: PolicyPod[],
    verify: boolean,
  ): Promise<{ applied: boolean; drift: RuleRepair[] }> {
    const { nodeIP, podCIDRs } = this.#node;
    const rules = compileNodeRules(world, local, {
      nodeIP,
      ...(this.#options.failClosed ? { failClosedCIDRs: podCIDRs } : {}),
    });
    const text = `${rules.chains}${JSON.stringify(rules.jumps)}`;
    const unchanged = this.#nodeRules?.text === text;
    if (unchanged && !verify) return { applied: false, drift: [] };
    const repairs = await syncRules(this.#options.runner, this.#options.backend, rules);
    this.#nodeRules = { text, count: rules.ruleCount };
    return { applied: !unchanged || repairs.length > 0, drift: unchanged ? repairs : [] };
  }
}

/** `ip -all netns exec SAVE` prints `netns: NAME` before each namespace's tables. */
function splitByNetns(output: string): Map<string, string> {
  const byNetns = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split("\n")) {
    const header = /^netns: (\S+)$/.exec(line);
    if (header) byNetns.set(header[1]!, (current = []));
    else current?.push(line);
  }
  return new Map([...byNetns].map(([name, lines]) => [name, lines.join("\n")]));
}

/** Whether a namespace's saved filter table holds exactly the payload's rules in INPUT, OUTPUT and ours. */
function holds(saved: string, firewall: PodFirewall): boolean {
  const held = parseSave(saved);
  const wanted = parseSave(firewall.restore);
  return ["INPUT", "OUTPUT", INGRESS_CHAIN, EGRESS_CHAIN].every((chain) => {
    const a = chainRules(held, "filter", chain) ?? [];
    const b = chainRules(wanted, "filter", chain) ?? [];
    return a.length === b.length && a.every((rule, index) => rule === b[index]);
  });
}

function split<T>(items: readonly T[], parts: number): T[][] {
  const size = Math.ceil(items.length / Math.max(1, parts));
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-3).join("; ");
}
