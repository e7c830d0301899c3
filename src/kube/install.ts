// Install: apply the rendered objects, wait for the agent on every node, then make CoreDNS come back
// if it is not Ready (the seed's step 3: pods started before pod networking worked stay broken).
import type { KubeApi, KubeObject, ObjectRef } from "./client.ts";
import { applyObjects, refOf, type Applied } from "./apply.ts";
import { daemonSetRollout, deploymentRollout, restartRollout } from "./rollout.ts";
import { waitFor, type Verdict } from "./wait.ts";
import type { Progress } from "./wait.ts";

export const COREDNS: ObjectRef = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  name: "coredns",
  namespace: "kube-system",
};

type CoreDnsOutcome = "ready" | "restarted" | "not found" | "not checked (dry run)";

export interface InstallReport {
  applied: Applied[];
  /** The agent DaemonSet's final state; undefined on a dry run. */
  agent?: string;
  coreDns: CoreDnsOutcome;
}

export interface InstallOptions {
  dryRun: boolean;
  timeoutMs: number;
  progress: (label: string) => Progress;
  now?: () => Date;
}

export async function install(
  api: KubeApi,
  objects: readonly KubeObject[],
  options: InstallOptions,
): Promise<InstallReport> {
  const applied = await applyObjects(api, objects, { dryRun: options.dryRun });
  if (options.dryRun) return { applied, coreDns: "not checked (dry run)" };

  const agent = agentDaemonSet(objects);
  const [rolledOut] = await waitForRollout(api, refOf(agent), daemonSetRollout, "agent", options);
  const agentState = daemonSetRollout(rolledOut).progress;

  const coreDns = await api.get(COREDNS);
  if (!coreDns) return { applied, agent: agentState, coreDns: "not found" };
  if (deploymentRollout(coreDns).done) return { applied, agent: agentState, coreDns: "ready" };
  await restartRollout(api, COREDNS, (options.now ?? (() => new Date()))());
  await waitForRollout(api, COREDNS, deploymentRollout, "CoreDNS", options);
  return { applied, agent: agentState, coreDns: "restarted" };
}

export function agentDaemonSet(objects: readonly KubeObject[]): KubeObject {
  const daemonSets = objects.filter((object) => object.kind === "DaemonSet");
  if (daemonSets.length !== 1) {
    throw new Error(
      `the rendered manifests hold ${daemonSets.length} DaemonSets; expected the agent's alone`,
    );
  }
  return daemonSets[0]!;
}

async function waitForRollout(
  api: KubeApi,
  ref: ObjectRef,
  judge: (object: KubeObject | undefined) => Verdict,
  label: string,
  options: InstallOptions,
): Promise<KubeObject[]> {
  const progress = options.progress(label);
  try {
    return await waitFor(
      api,
      {
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        namespace: ref.namespace,
        fieldSelector: `metadata.name=${ref.name}`,
        what: `${ref.kind} ${ref.namespace}/${ref.name}`,
      },
      (found) => judge(found[0]),
      { timeoutMs: options.timeoutMs, onProgress: (line) => progress.update(line) },
    );
  } finally {
    progress.done();
  }
}
