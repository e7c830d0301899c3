// The lifecycle scenario, in one boot: the emulated VNet, the real control plane in it, the nodes
// joining one after another (the node emulator in place of each kubelet), `install` from the rendered
// manifests (the agent DaemonSet and controller Deployment running as the emulator runs them, with
// their ServiceAccount tokens and RBAC), the last node joining after install with no block yet, pods
// and a NetworkPolicy created through the API and probed (same node and across, the late node
// included, an allowed probe as the negative control of every denied one), then `uninstall` and each
// node compared with itself before install. Each step's time and the programs' memory are reported.
import { join } from "node:path";
import { release } from "node:os";
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { ClusterSpec } from "../../spec/schema.ts";
import { connect, type KubeApi, type KubeObject } from "../../kube/client.ts";
import { loadKubeConfig } from "../../kube/config.ts";
import { install } from "../../kube/install.ts";
import { uninstall } from "../../kube/uninstall.ts";
import { daemonSetRollout } from "../../kube/rollout.ts";
import { startPod } from "../../kube/pods.ts";
import { waitFor, type Progress } from "../../kube/wait.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../../ipam/annotation.ts";
import { renderManifests } from "../../manifests/render.ts";
import { AGENT_NAME, NAMESPACE } from "../../manifests/names.ts";
import { guestCli } from "../bundle.ts";
import { INTERNET, INTERNET_IP } from "../guest/topology.ts";
import { sysctls } from "../guest/netns.ts";
import { API_PORT, startControlPlane, type ControlPlane } from "./control-plane.ts";
import { API_ADMIN_ADDRESS, buildNetwork } from "./network.ts";
import { Kubelet } from "./kubelet.ts";
import { sandboxNs } from "./sandbox.ts";
import { runWorkloads } from "./workloads.ts";
import { runNamespaces } from "./namespaces.ts";
import { followBlocks } from "./vnet-routes.ts";
import { readNodeState, stateDifferences } from "./node-state.ts";
import { httpProbe } from "./probes.ts";
import { residentMiB } from "./processes.ts";
import type { LifecycleResult, Probe } from "./job.ts";

/** Bounds against a hang, not targets: the guest has one slow CPU. */
const CONTROL_PLANE_TIMEOUT_MS = 300_000;
const WAIT_TIMEOUT_MS = 240_000;
const POLICY_SETTLE_MS = 120_000;
const APP_NAMESPACE = "default";

const quiet = (): Progress => ({ update: () => undefined, done: () => undefined });

export async function runLifecycle(
  spec: ClusterSpec,
  kubeBin: string,
  root: string,
  log: (line: string) => void,
): Promise<LifecycleResult> {
  const result: LifecycleResult = {
    kernel: release(),
    steps: [],
    blocks: {},
    probes: [],
    memoryMiB: {},
    installed: {},
    leftovers: {},
  };
  const step = async <T>(name: string, action: () => Promise<T>, detail: (value: T) => string = () => "") => {
    const started = performance.now();
    const value = await action();
    const ms = Math.round(performance.now() - started);
    result.steps.push({ name, ms, detail: detail(value) });
    log(`step ${name}: ${ms} ms ${detail(value)}`);
    return value;
  };
  const stop = new AbortController();
  const background: Array<Promise<void>> = [];
  const onError = (error: unknown) => log(`background: ${String(error)}`);
  let plane: ControlPlane | undefined;
  const kubelets: Kubelet[] = [];
  try {
    const topology = await step("network", () => buildNetwork(spec));
    // AKS nodes forward already (kube-proxy sets it): the agent's own change is not what is compared.
    for (const node of topology.nodes) await sysctls(node.ns, { "net.ipv4.ip_forward": "1" });
    plane = await step("control plane ready", () =>
      startControlPlane({
        bin: kubeBin,
        dir: join(root, "control-plane"),
        ns: INTERNET,
        address: INTERNET_IP,
        adminAddress: API_ADMIN_ADDRESS,
        timeoutMs: CONTROL_PLANE_TIMEOUT_MS,
      }),
    );
    await measure(result, "etcd", plane.etcd);
    await measure(result, "kube-apiserver", plane.apiserver);
    const config = loadKubeConfig({ kubeconfig: plane.adminKubeconfig });
    const api = connect(config);
    const core = config.makeApiClient(CoreV1Api);
    const apps = config.makeApiClient(AppsV1Api);
    background.push(runWorkloads(api, { core, apps }, stop.signal, onError));
    background.push(runNamespaces(api, core, stop.signal, onError));
    background.push(followBlocks(api, spec, topology, stop.signal, onError));
    const context = {
      api,
      core,
      apiServer: {
        url: `https://${INTERNET_IP}:${API_PORT}`,
        host: INTERNET_IP,
        port: API_PORT,
        caFile: plane.caFile,
      },
      cli: guestCli(),
      node: process.execPath,
      log,
    };
    for (const node of topology.nodes)
      kubelets.push(
        new Kubelet(
          { name: node.name, ns: node.ns, ip: node.ip, root: join(root, "nodes", node.name) },
          context,
        ),
      );
    const before = new Map<string, Awaited<ReturnType<typeof readNodeState>>>();
    for (const kubelet of kubelets)
      before.set(kubelet.node.name, await readNodeState(kubelet.node.ns, kubelet.paths.confDir));

    const join_ = async (kubelet: Kubelet) => {
      await kubelet.register();
      background.push(kubelet.run(stop.signal));
    };
    const late = kubelets.at(-1)!;
    for (const kubelet of kubelets.slice(0, -1))
      await step(`join ${kubelet.node.name}`, () => join_(kubelet));
    const objects = renderManifests(spec) as KubeObject[];
    await step(
      "install (agents ready on the joined nodes)",
      () => install(api, objects, { dryRun: false, timeoutMs: WAIT_TIMEOUT_MS, progress: quiet }),
      (report) => `agent ${report.agent ?? ""}`,
    );
    await step(`join ${late.node.name} after install, until its agent is ready`, async () => {
      await join_(late);
      await waitFor(
        api,
        {
          apiVersion: "apps/v1",
          kind: "DaemonSet",
          namespace: NAMESPACE,
          fieldSelector: `metadata.name=${AGENT_NAME}`,
          what: "the agent DaemonSet",
        },
        (found) => {
          const verdict = daemonSetRollout(found[0]);
          const desired = (found[0]?.status as { desiredNumberScheduled?: number } | undefined)
            ?.desiredNumberScheduled;
          return { ...verdict, done: verdict.done && desired === kubelets.length };
        },
        { timeoutMs: WAIT_TIMEOUT_MS },
      );
    });
    for (const node of (await api.list("v1", "Node")).items)
      result.blocks[node.metadata.name] = parseBlocksAnnotation(
        node.metadata.annotations?.[BLOCKS_ANNOTATION],
      );
    for (const kubelet of kubelets) {
      for (const [pod, program] of kubelet.programs()) await measure(result, `${pod} (first sync)`, program);
      const now = await readNodeState(kubelet.node.ns, kubelet.paths.confDir);
      result.installed[kubelet.node.name] = stateDifferences(before.get(kubelet.node.name)!, now);
    }

    const pods = await step("pods through the API, on every node", () => startPods(api, kubelets));
    await step("NetworkPolicy through the API, enforced", () => policy(api, pods, result.probes, log));
    await step(
      "uninstall",
      () => uninstall(api, objects, { timeoutMs: WAIT_TIMEOUT_MS, progress: quiet }),
      (report) =>
        report.cleanup.map((node) => `${node.node} ${node.outcome}`).join(", ") +
        (report.namespaceGone ? "; namespace gone" : "; namespace left"),
    );
    for (const kubelet of kubelets) {
      const after = await readNodeState(kubelet.node.ns, kubelet.paths.confDir);
      result.leftovers[kubelet.node.name] = stateDifferences(before.get(kubelet.node.name)!, after);
    }
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
    log(`error: ${result.error}`);
    for (const kubelet of kubelets)
      log(
        `agent log of ${kubelet.node.name}:\n${(await kubelet.agentLog()).split("\n").slice(-12).join("\n")}`,
      );
  } finally {
    stop.abort();
    await Promise.allSettled(background);
    await plane?.stop();
  }
  return result;
}

async function measure(result: LifecycleResult, name: string, program: Parameters<typeof residentMiB>[0]) {
  const mib = await residentMiB(program);
  if (mib !== undefined) result.memoryMiB[name] = mib;
}

interface ScenarioPod {
  name: string;
  node: string;
  ip: string;
  ns: string;
}

/** A server (app=web, port 80), a client the policy allows (app=client) and one it does not, per node. */
async function startPods(api: KubeApi, kubelets: readonly Kubelet[]): Promise<ScenarioPod[]> {
  const wanted = kubelets.flatMap((kubelet) =>
    ["web", "client", "other"].map((app) => ({
      app,
      node: kubelet.node.name,
      name: `${app}-${kubelet.node.name}`,
    })),
  );
  // All at once, as a Deployment's pods come: each node's emulator starts its own side by side.
  return Promise.all(
    wanted.map(async ({ app, node, name }) => {
      const pod = await startPod(
        api,
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace: APP_NAMESPACE, labels: { app } },
          spec: {
            nodeName: node,
            containers: [
              { name: app, image: "busybox", ...(app === "web" ? { ports: [{ containerPort: 80 }] } : {}) },
            ],
          },
        },
        "ready",
        { timeoutMs: WAIT_TIMEOUT_MS },
      );
      const status = pod.status as { podIP?: string } | undefined;
      return { name, node, ip: status?.podIP ?? "", ns: sandboxNs(pod.metadata.uid ?? "") };
    }),
  );
}

/**
 * Before the policy every client reaches every server (the paths work, so a denial later is the
 * policy's); then `web` admits only `client`: every `client` must still get through and every `other`
 * must be refused, on the same node and across nodes, until both hold at once or the settle time ends.
 */
async function policy(
  api: KubeApi,
  pods: readonly ScenarioPod[],
  probes: Probe[],
  log: (line: string) => void,
) {
  const servers = pods.filter((pod) => pod.name.startsWith("web-"));
  const clients = pods.filter((pod) => !pod.name.startsWith("web-"));
  const round = async (expect: (client: ScenarioPod) => Probe["expected"]) => {
    const results: Probe[] = [];
    for (const client of clients)
      for (const server of servers) {
        const { got, tries } = await httpProbe(client.ns, server.ip);
        results.push({
          from: client.name,
          to: server.name,
          where: client.node === server.node ? "same node" : "across nodes",
          expected: expect(client),
          got,
          tries,
        });
      }
    return results;
  };
  const before = await round(() => "allowed");
  const blocked = before.filter((probe) => probe.got !== "allowed");
  if (blocked.length > 0) throw new Error(`before any policy, these failed: ${JSON.stringify(blocked)}`);
  await api.create({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "web-from-client", namespace: APP_NAMESPACE },
    spec: {
      podSelector: { matchLabels: { app: "web" } },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }] }],
    },
  });
  const deadline = Date.now() + POLICY_SETTLE_MS;
  for (let rounds = 1; ; rounds++) {
    const after = await round((client) => (client.name.startsWith("client-") ? "allowed" : "denied"));
    const wrong = after.filter((probe) => probe.got !== probe.expected);
    if (wrong.length === 0 || Date.now() > deadline) {
      probes.push(...after);
      log(`policy: ${after.length} probes, ${wrong.length} wrong after ${rounds} rounds`);
      return;
    }
  }
}
