// Enforces NetworkPolicy for the pods of one node: compiles each local pod's firewall (src/policy)
// and applies it in the pod's own network namespace, the one place every packet of an ipvlan L3S pod
// crosses whether its peer is on this node or another. Each pod's rules are one
// `iptables-restore --noflush` (one atomic transaction per pod); a pod is touched only when its
// compiled rules differ from what was last applied to it, so a change reaches only the pods it affects.
import type { Runner } from "../../sys/exec.ts";
import { mapBounded } from "../../sys/bounded.ts";
import type { Backend } from "../../iptables/backend.ts";
import { compilePodFirewalls, type PodFirewall } from "../../policy/compile.ts";
import { podKey, type PodKey, type PolicyPod, type PolicyWorld } from "../../policy/model.ts";
import type { NetnsLocator } from "./netns.ts";

export interface EnforcerOptions {
  node: string;
  nodeIP: string;
  /** ClusterIPs: let through in the pod's namespace, checked by the node after DNAT. */
  serviceCIDR?: string;
  runner: Runner;
  backend: Backend;
  locator: NetnsLocator;
  /** Restores in flight at once. */
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
  failed: PodOutcome[];
  /** Local pods isolated in at least one direction, and the rules in force on this node. */
  enforcedPods: number;
  rulesProgrammed: number;
  durationMs: number;
}

interface Applied {
  netns: string;
  ip: string;
  firewall: PodFirewall;
}

export class PolicyEnforcer {
  readonly #options: EnforcerOptions;
  /** What is in force in each local pod's namespace, as far as this process knows. */
  readonly #applied = new Map<PodKey, Applied>();

  constructor(options: EnforcerOptions) {
    this.#options = options;
  }

  /** Brings every local pod of `world` to its compiled rules; pods that left are forgotten. */
  async sync(world: PolicyWorld): Promise<SyncReport> {
    const started = performance.now();
    const local = world.pods.filter((pod) => pod.node === this.#options.node);
    const firewalls = compilePodFirewalls(world, local, {
      nodeIPOf: () => this.#options.nodeIP,
      ...(this.#options.serviceCIDR ? { serviceCIDR: this.#options.serviceCIDR } : {}),
    });
    const keys = new Set(local.map(podKey));
    for (const key of this.#applied.keys()) if (!keys.has(key)) this.#applied.delete(key);

    const changed = local.filter((pod) => {
      const before = this.#applied.get(podKey(pod));
      return before?.ip !== pod.ip || before.firewall.restore !== firewalls.get(podKey(pod))!.restore;
    });
    const netnsOf = await this.#options.locator.locate(changed.map((pod) => pod.ip));
    const unlocated = changed.filter((pod) => !netnsOf.has(pod.ip)).map(podKey);
    const outcomes = await mapBounded(
      changed.filter((pod) => netnsOf.has(pod.ip)),
      this.#options.concurrency ?? 8,
      (pod) => this.#apply(pod, netnsOf.get(pod.ip)!, firewalls.get(podKey(pod))!),
    );

    let enforcedPods = 0;
    let rulesProgrammed = 0;
    for (const { firewall } of this.#applied.values()) {
      if (firewall.ingressIsolated || firewall.egressIsolated) enforcedPods++;
      rulesProgrammed += firewall.ruleCount;
    }
    return {
      applied: outcomes.filter((outcome) => !outcome.error),
      unlocated,
      failed: outcomes.filter((outcome) => outcome.error),
      enforcedPods,
      rulesProgrammed,
      durationMs: Math.round(performance.now() - started),
    };
  }

  async #apply(pod: PolicyPod, netns: string, firewall: PodFirewall): Promise<PodOutcome> {
    const key = podKey(pod);
    try {
      await this.#options.runner(
        "ip",
        ["netns", "exec", netns, this.#options.backend.restore, "--noflush", "--wait=5"],
        { input: firewall.restore, timeoutMs: 30_000 },
      );
      this.#applied.set(key, { netns, ip: pod.ip, firewall });
      return { pod: key, netns, ruleCount: firewall.ruleCount };
    } catch (error) {
      // The namespace may be gone or reused: look it up again next time, and retry then.
      this.#options.locator.forget(netns);
      this.#applied.delete(key);
      return { pod: key, netns, ruleCount: 0, error: (error as Error).message };
    }
  }
}
