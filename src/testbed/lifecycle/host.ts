// The host's side of the lifecycle scenario, for the e2e test and `demo --lifecycle`: the spec it runs
// by default, where the Go-built control plane is, one boot of the guest with the job, and what in the
// result makes the run fail.
import { realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import { extname } from "node:path";
import type { ClusterSpecInput } from "../../spec/schema.ts";
import { UserError } from "../../errors/user-error.ts";
import { runInGuest, type GuestRun } from "../run.ts";
import { REPO, type KernelRunner, type RunnerChoice } from "../runners/runner.ts";
import { LIFECYCLE_KIND, LifecycleResultSchema, type LifecycleJob, type LifecycleResult } from "./job.ts";

/** Two nodes, the second joining after install; a pool outside the node subnet, no block pinned. */
export const LIFECYCLE_SPEC: ClusterSpecInput = {
  name: "lifecycle",
  nodeSubnet: "10.240.0.0/24",
  podPool: ["10.241.0.0/24"],
  blockSize: 28,
  agent: { policy: { enabled: true } },
  nodes: [
    { name: "node1", ip: "10.240.0.4" },
    { name: "node2", ip: "10.240.0.5" },
  ],
};

// main.ts beside the sources (a clone), main.js in dist/ (the installed package).
const GUEST_ENTRY = resolve(import.meta.dirname, `../guest/main${extname(import.meta.filename)}`);
/** scripts/build-kube.sh links its cache here. */
const KUBE_BIN = join(REPO, ".testbed", "kube-bin");

async function kubeBin(): Promise<string> {
  return realpath(KUBE_BIN).catch(() => {
    throw new UserError([
      {
        path: "--lifecycle",
        value: KUBE_BIN,
        message: "the Go-built etcd and kube-apiserver are not there",
        fix: "run bash scripts/build-kube.sh in a clone (needs Go 1.26; about 40 minutes cold)",
      },
    ]);
  });
}

export async function runLifecycleInGuest(options: {
  spec?: ClusterSpecInput;
  runner?: RunnerChoice | KernelRunner;
  timeoutMs: number;
  onLine?: (line: string) => void;
}): Promise<GuestRun<LifecycleResult>> {
  const job: Omit<LifecycleJob, "specFile"> = { kind: LIFECYCLE_KIND, kubeBin: await kubeBin() };
  return runInGuest({
    entry: GUEST_ENTRY,
    spec: options.spec ?? LIFECYCLE_SPEC,
    job,
    schema: LifecycleResultSchema,
    timeoutMs: options.timeoutMs,
    ...(options.runner ? { runner: options.runner } : {}),
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
}

/** Why the run failed, one line each; empty when it passed. */
export function lifecycleProblems(result: LifecycleResult): string[] {
  const problems: string[] = [];
  if (result.error) problems.push(`the scenario stopped: ${result.error.split("\n")[0]}`);
  for (const probe of result.probes.filter((candidate) => candidate.got !== candidate.expected))
    problems.push(
      `${probe.from} → ${probe.to} (${probe.where}): expected ${probe.expected}, got ${probe.got}`,
    );
  for (const [node, lines] of Object.entries(result.leftovers))
    for (const line of lines) problems.push(`${node} after uninstall: ${line}`);
  return problems;
}
