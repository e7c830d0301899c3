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
import { perNodeName, podState } from "../../kube/pods.ts";
import { refOf } from "../../kube/apply.ts";
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
import { runWorkloads } from "./workloads.ts";
import { runNamespaces } from "./namespaces.ts";
import { followBlocks } from "./vnet-routes.ts";
import { readNodeState, stateDifferences } from "./node-state.ts";
import { ALL_ALLOWED, APP_NAMESPACE, probeUntil, startApps, type Expectation } from "./apps.ts";
import { residentMiB } from "./processes.ts";
import type { LifecycleResult } from "./job.ts";

/** Bounds against a hang, not targets: the guest has one slow CPU. */
const CONTROL_PLANE_TIMEOUT_MS = 300_000;
const WAIT_TIMEOUT_MS = 240_000;
const POLICY_SETTLE_MS = 120_000;

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

    const nodeNames = kubelets.map((kubelet) => kubelet.node.name);
    const pods = await step("pods through the API, on every node", () =>
      startApps(api, nodeNames, WAIT_TIMEOUT_MS),
    );
    // Each phase's probes; the first shows every path works, so a denial later is the policy's.
    const phase = async (name: string, expect: Expectation) => {
      const { probes, rounds } = await probeUntil(pods, name, expect, POLICY_SETTLE_MS);
      result.probes.push(...probes);
      const wrong = probes.filter((probe) => probe.got !== probe.expected).length;
      return `${probes.length} probes, ${wrong} wrong, ${rounds} rounds`;
    };
    const webFromClient: Expectation = (client) => (client.app === "client" ? "allowed" : "denied");
    await step(
      "probes before any policy",
      () => phase("before any policy", ALL_ALLOWED),
      (text) => text,
    );
    await step(
      "NetworkPolicy through the API, enforced",
      async () => {
        await api.create(WEB_FROM_CLIENT);
        return phase("policy created", webFromClient);
      },
      (text) => text,
    );
    await step(
      `agent on ${late.node.name} restarted (its pod deleted), policy still enforced`,
      async () => {
        await restartAgent(api, late.node.name);
        return phase("agent restarted", webFromClient);
      },
      (text) => text,
    );
    await step(
      "NetworkPolicy deleted, every client let through",
      async () => {
        await api.delete(refOf(WEB_FROM_CLIENT));
        return phase("policy deleted", ALL_ALLOWED);
      },
      (text) => text,
    );
    // After the scenario's changes and the resyncs meanwhile (agent.resyncSeconds), before uninstall.
    for (const kubelet of kubelets)
      for (const [pod, program] of kubelet.programs())
        await measure(result, `${pod} (before uninstall)`, program);
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

const WEB_FROM_CLIENT: KubeObject = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "web-from-client", namespace: APP_NAMESPACE },
  spec: {
    podSelector: { matchLabels: { app: "web" } },
    policyTypes: ["Ingress"],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }] }],
  },
};

/** Deletes the node's agent pod, as a rollout or an eviction does, and waits for its successor to be Ready. */
async function restartAgent(api: KubeApi, node: string): Promise<void> {
  const ref = { apiVersion: "v1", kind: "Pod", name: perNodeName(AGENT_NAME, node), namespace: NAMESPACE };
  const old = await api.get(ref);
  await api.delete(ref);
  await waitFor(
    api,
    {
      apiVersion: "v1",
      kind: "Pod",
      namespace: NAMESPACE,
      fieldSelector: `metadata.name=${ref.name}`,
      what: `a new ${ref.name}`,
    },
    ([pod]) => {
      const replaced = pod !== undefined && pod.metadata.uid !== old?.metadata.uid;
      return { done: replaced && podState(pod).ready, progress: replaced ? "replaced" : "the old pod" };
    },
    { timeoutMs: WAIT_TIMEOUT_MS },
  );
}
