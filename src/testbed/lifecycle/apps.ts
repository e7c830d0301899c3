// The scenario's workload: a server (app=web, port 80), a client a policy may admit (app=client) and
// another client (app=other) on every node, created through the API and run by the node emulators;
// and the rounds of probes between them, every client to every server, same node and across nodes.
import type { KubeApi } from "../../kube/client.ts";
import { startPod } from "../../kube/pods.ts";
import { sandboxNs } from "./sandbox.ts";
import { httpProbe } from "./probes.ts";
import type { Probe } from "./job.ts";

export const APP_NAMESPACE = "default";
const APPS = ["web", "client", "other"] as const;

interface AppPod {
  name: string;
  app: (typeof APPS)[number];
  node: string;
  ip: string;
  /** The sandbox's network namespace. */
  ns: string;
}

/** Creates the pods, all at once (as a Deployment's come), and waits until each is Ready. */
export async function startApps(
  api: KubeApi,
  nodes: readonly string[],
  timeoutMs: number,
): Promise<AppPod[]> {
  const wanted = nodes.flatMap((node) => APPS.map((app) => ({ app, node, name: `${app}-${node}` })));
  return Promise.all(
    wanted.map(async ({ app, node, name }) => {
      const ports = app === "web" ? { ports: [{ containerPort: 80 }] } : {};
      const pod = await startPod(
        api,
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace: APP_NAMESPACE, labels: { app } },
          spec: { nodeName: node, containers: [{ name: app, image: "busybox", ...ports }] },
        },
        "ready",
        { timeoutMs },
      );
      const status = pod.status as { podIP?: string } | undefined;
      return { name, app, node, ip: status?.podIP ?? "", ns: sandboxNs(pod.metadata.uid ?? "") };
    }),
  );
}

export type Expectation = (client: AppPod) => Probe["expected"];
export const ALL_ALLOWED: Expectation = () => "allowed";

/**
 * Rounds of probes until every one is as `expect` says or `settleMs` has passed (a policy takes an
 * agent's sync to hold); the last round is the phase's result.
 */
export async function probeUntil(
  pods: readonly AppPod[],
  phase: string,
  expect: Expectation,
  settleMs: number,
): Promise<{ probes: Probe[]; rounds: number }> {
  const servers = pods.filter((pod) => pod.app === "web");
  const clients = pods.filter((pod) => pod.app !== "web");
  const deadline = Date.now() + settleMs;
  for (let rounds = 1; ; rounds++) {
    const probes: Probe[] = [];
    for (const client of clients)
      for (const server of servers) {
        const { got, tries } = await httpProbe(client.ns, server.ip);
        const where = client.node === server.node ? "same node" : "across nodes";
        probes.push({
          phase,
          from: client.name,
          to: server.name,
          where,
          expected: expect(client),
          got,
          tries,
        });
      }
    if (probes.every((probe) => probe.got === probe.expected) || Date.now() > deadline)
      return { probes, rounds };
  }
}
