// Enforces NetworkPolicy for the pods of one node: compiles each local pod's firewall (src/policy)
// and applies it in the pod's own network namespace, plus the node's rules (ingress from other
// nodes, Service traffic after DNAT). Each pod's rules are one `iptables-restore --noflush` (one
// atomic transaction per pod); a pod is touched only when its compiled rules differ from what was
// last applied to it, so a change reaches only the pods it affects. The restores of one sync run
// from a few `ip -batch` processes (`netns exec NS iptables-restore FILE` per line) instead of one
// program start per pod: starting a program from the agent costs far more than the restore itself
// on a busy node.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Runner } from "../../sys/exec.ts";
import { mapBounded } from "../../sys/bounded.ts";
import type { Backend } from "../../iptables/backend.ts";
import { syncRules } from "../../iptables/apply.ts";
import { compilePodFirewalls, isolatedFirewall, type PodFirewall } from "../../policy/pod-firewall.ts";
import { compileNodeRules } from "../../policy/node-rules.ts";
import { podKey, type PodKey, type PolicyPod, type PolicyWorld } from "../../policy/model.ts";
import { parseCidr, parseIp } from "../../net/cidr.ts";
import type { NetnsLocator } from "./netns.ts";

export interface EnforcerOptions {
  node: string;
  nodeIP: string;
  /** ClusterIPs: let through in the pod's namespace, checked by the node after DNAT. */
  serviceCIDR?: string;
  /** The node's pod blocks: egress to them is judged in the pods' namespaces, the rest by the node. */
  podCIDRs: readonly string[];
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

export class PolicyEnforcer {
  readonly #options: EnforcerOptions;
  /** What is in force in each local pod's namespace, as far as this process knows. */
  readonly #applied = new Map<PodKey, Applied>();
  #nodeRules?: { text: string; count: number };
  /** Fail-closed: namespaces holding the isolate payload (no pod of the world is theirs yet). */
  readonly #isolated = new Set<string>();

  constructor(options: EnforcerOptions) {
    this.#options = options;
  }

  /** Brings every local pod of `world` to its compiled rules; pods that left are forgotten. */
  async sync(world: PolicyWorld): Promise<SyncReport> {
    const started = performance.now();
    const { node, nodeIP, serviceCIDR } = this.#options;
    const local = world.pods.filter((pod) => pod.node === node);
    const firewalls = compilePodFirewalls(world, local, {
      nodeIPOf: () => nodeIP,
      podCIDRsOf: () => this.#options.podCIDRs,
      ...(serviceCIDR ? { serviceCIDR } : {}),
    });
    const compiled = performance.now();
    const keys = new Set(local.map(podKey));
    for (const key of this.#applied.keys()) if (!keys.has(key)) this.#applied.delete(key);

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
      this.#applyNodeRules(world, local).then(
        (applied) => ({ applied, error: undefined }),
        (error: unknown) => ({ applied: false, error: (error as Error).message }),
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
    const { podCIDRs, nodeIP, locator } = this.#options;
    const known = new Set(local.map((pod) => pod.ip));
    const sandboxes = await locator.sandboxes();
    for (const netns of this.#isolated) if (!sandboxes.has(netns)) this.#isolated.delete(netns);
    const firewall = isolatedFirewall({ nodeIP });
    const pending: Pending[] = [];
    for (const [netns, ips] of sandboxes) {
      if (this.#isolated.has(netns) || ips.some((ip) => known.has(ip))) continue;
      if (ips.length > 0 && !ips.every((ip) => within(ip, podCIDRs))) continue;
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
   * The node's share (compileNodeRules), applied only when it changed: ingress from other nodes in
   * filter INPUT (L3S delivers it through the node, never through the pod's INPUT), and Service
   * traffic after DNAT in filter OUTPUT.
   */
  async #applyNodeRules(world: PolicyWorld, local: PolicyPod[]): Promise<boolean> {
    const { nodeIP, podCIDRs, failClosed } = this.#options;
    const rules = compileNodeRules(world, local, {
      nodeIP,
      ...(failClosed ? { failClosedCIDRs: [...podCIDRs] } : {}),
    });
    const text = `${rules.chains}${JSON.stringify(rules.jumps)}`;
    if (this.#nodeRules?.text === text) return false;
    await syncRules(this.#options.runner, this.#options.backend, rules);
    this.#nodeRules = { text, count: rules.ruleCount };
    return true;
  }
}

/** Whether `ip` lies in one of `cidrs`. */
function within(ip: string, cidrs: readonly string[]): boolean {
  const value = parseIp(ip);
  return cidrs.some((text) => {
    const cidr = parseCidr(text);
    return value >= cidr.base && value < cidr.base + 2 ** (32 - cidr.prefix);
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
