// The node emulator (in place of the kubelet, the way kwok does it, but running pods for real): it
// registers its node as a Node with InternalIP and providerID and reports it Ready, then runs the pods
// the API binds to it: the product's own pods as processes in the node's namespace (product-pod.ts),
// every other pod as a sandbox wired by the real CNI plugins through the node's conf dir
// (sandbox.ts). It reports each pod's IP, readiness (the container's readinessProbe, run as the
// kubelet runs an httpGet probe) and exit, and on deletion stops the pod, runs CNI DEL and removes
// the pod object (grace period 0, as the kubelet does once the pod is gone).
import { join } from "node:path";
import { mkdir, readFile, readdir } from "node:fs/promises";
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { KubeApi } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { Coalescer } from "../../sys/coalesce.ts";
import { run } from "../../sys/exec.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { NetworkNotReadyError, SandboxRuntime, sandboxNs, type Sandbox } from "./sandbox.ts";
import { productContainer, productProcess, type NodePaths } from "./product-pod.ts";
import { serviceAccountKubeconfig } from "./credentials.ts";
import { startIn, stopProgram, type Program } from "./processes.ts";
import { nodeStatus, podStatus, type PodRun } from "./status.ts";
import { CNI_BIN_DIR } from "../guest/node-setup.ts";

export interface KubeletContext {
  api: KubeApi;
  core: CoreV1Api;
  /** Where pods reach the API server, and its CA. */
  apiServer: { url: string; host: string; port: number; caFile: string };
  /** The guest's CLI and Node (src/testbed/bundle.ts). */
  cli: string;
  node: string;
  log: (line: string) => void;
}

export interface NodeConfig {
  name: string;
  ns: string;
  ip: string;
  /** The node's files (its /etc/cni/net.d, /run/aks-ipvlan, the pods' files). */
  root: string;
}

/** How often a pod that could not start (no network config yet) is tried again: the kubelet's sync. */
const RETRY_MS = 1_000;

interface Running {
  pod: V1Pod;
  run: PodRun;
  sandbox?: Sandbox;
  program?: Program;
  probe?: NodeJS.Timeout;
}

export class Kubelet {
  readonly node: NodeConfig;
  readonly paths: NodePaths;
  readonly #context: KubeletContext;
  readonly #sandboxes: SandboxRuntime;
  readonly #running = new Map<string, Running>();
  /** Pods being started or stopped: a sync skips them. */
  readonly #busy = new Set<string>();
  #informer: Informer | undefined;
  #networkReady = false;
  #sync: Coalescer | undefined;

  constructor(node: NodeConfig, context: KubeletContext) {
    this.node = node;
    this.#context = context;
    this.paths = {
      confDir: join(node.root, "etc-cni-net.d"),
      ipamDataDir: join(node.root, "run-aks-ipvlan", "ipam"),
      cniBinDir: CNI_BIN_DIR,
    };
    this.#sandboxes = new SandboxRuntime(node.ns, {
      confDir: this.paths.confDir,
      cacheDir: join(node.root, "cni-cache"),
      www: join(node.root, "www"),
    });
  }

  /** Creates the Node (as a kubelet registers itself) and reports it Ready. */
  async register(): Promise<void> {
    const { core } = this.#context;
    await mkdir(this.paths.confDir, { recursive: true });
    await core.createNode({
      body: {
        metadata: {
          name: this.node.name,
          labels: { "kubernetes.io/os": "linux", "kubernetes.io/hostname": this.node.name },
        },
        spec: {
          providerID: `azure:///subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/mc_lifecycle/providers/Microsoft.Compute/virtualMachines/${this.node.name}`,
        },
      },
    });
    await this.#reportNode(false);
  }

  /** The Node's status; Ready once the node has a network config, as the kubelet's network check. */
  async #reportNode(networkReady: boolean): Promise<void> {
    const { core } = this.#context;
    for (let attempt = 0; ; attempt++) {
      try {
        const node = await core.readNodeStatus({ name: this.node.name });
        node.status = nodeStatus(this.node.ip, this.node.name, networkReady, new Date());
        await core.replaceNodeStatus({ name: this.node.name, body: node });
        this.#networkReady = networkReady;
        return;
      } catch (error) {
        // The controller annotates the Node meanwhile: read again.
        if ((error as { code?: number }).code !== 409 || attempt >= 3) throw error;
      }
    }
  }

  /** Runs the node's pods until `signal` aborts; then stops them all (the node goes down). */
  async run(signal: AbortSignal): Promise<void> {
    const onError = (error: unknown) => this.#context.log(`kubelet ${this.node.name}: ${String(error)}`);
    this.#sync = new Coalescer(() => this.#syncPods(), onError);
    this.#informer = new Informer(this.#context.api, "v1", "Pod", {
      fieldSelector: `spec.nodeName=${this.node.name}`,
      onEvent: () => this.#sync?.kick(),
      onSynced: () => this.#sync?.kick(),
      onError,
    });
    const retry = setInterval(() => this.#sync?.kick(), RETRY_MS);
    try {
      await this.#informer.run(signal);
    } finally {
      clearInterval(retry);
      await this.#sync.stop();
      for (const uid of [...this.#running.keys()]) await this.#stop(uid);
    }
  }

  /** The processes of the product's pods on this node (the agent), by pod name. */
  programs(): Map<string, Program> {
    const programs = new Map<string, Program>();
    for (const entry of this.#running.values())
      if (entry.program && entry.run.state === "running")
        programs.set(entry.pod.metadata?.name ?? "", entry.program);
    return programs;
  }

  async #syncPods(): Promise<void> {
    const networkReady = (await readdir(this.paths.confDir).catch(() => [])).some((name) =>
      name.endsWith(".conflist"),
    );
    if (networkReady !== this.#networkReady) await this.#reportNode(networkReady);
    const pods = [...(this.#informer?.objects.values() ?? [])];
    const seen = new Set<string>();
    for (const object of pods) {
      const uid = object.metadata.uid ?? "";
      seen.add(uid);
      if (this.#busy.has(uid)) continue;
      const { namespace = "", name } = object.metadata;
      const deleting = (object.metadata as { deletionTimestamp?: string }).deletionTimestamp !== undefined;
      if (deleting) {
        this.#busy.add(uid);
        void this.#stop(uid)
          .then(() => this.#context.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }))
          // Already gone (its namespace's deletion removed it): nothing left to remove.
          .catch((error: unknown) => {
            if ((error as { code?: number }).code !== 404) throw error;
          })
          .catch((error: unknown) =>
            this.#context.log(`kubelet ${this.node.name}: deleting ${name}: ${String(error)}`),
          )
          .finally(() => this.#busy.delete(uid));
      } else if (!this.#running.has(uid)) {
        this.#busy.add(uid);
        void this.#start(namespace, name)
          .catch((error: unknown) => {
            if (!(error instanceof NetworkNotReadyError))
              this.#context.log(`kubelet ${this.node.name}: starting ${namespace}/${name}: ${String(error)}`);
          })
          .finally(() => this.#busy.delete(uid));
      }
    }
    for (const uid of this.#running.keys()) if (!seen.has(uid) && !this.#busy.has(uid)) await this.#stop(uid);
  }

  async #start(namespace: string, name: string): Promise<void> {
    const { core } = this.#context;
    const pod = await core.readNamespacedPod({ namespace, name });
    const uid = pod.metadata?.uid ?? "";
    const container = productContainer(pod);
    const started = new Date();
    if (container) {
      const dir = join(this.node.root, "pods", uid);
      await mkdir(dir, { recursive: true });
      const spec = await this.#configMapFile(pod, dir);
      const kubeconfig = await serviceAccountKubeconfig(
        core,
        {
          url: this.#context.apiServer.url,
          caFile: this.#context.apiServer.caFile,
          file: join(dir, "kubeconfig"),
        },
        { namespace, name: pod.spec?.serviceAccountName ?? "default", pod: { name, uid } },
      );
      const { argv, env } = productProcess(
        pod,
        container,
        { name: this.node.name, paths: this.paths },
        { cli: this.#context.cli, node: this.#context.node, spec, kubeconfig },
      );
      const program = startIn(this.node.ns, name, argv, join(dir, "log"), {
        ...process.env,
        ...env,
        KUBERNETES_SERVICE_HOST: this.#context.apiServer.host,
        KUBERNETES_SERVICE_PORT: String(this.#context.apiServer.port),
      });
      const entry: Running = {
        pod,
        program,
        run: { state: "running", podIp: this.node.ip, hostIp: this.node.ip, ready: false, started },
      };
      this.#running.set(uid, entry);
      void program.exited.then((exitCode) => {
        if (this.#running.get(uid) !== entry) return;
        entry.run = { state: "finished", hostIp: this.node.ip, exitCode, started, finished: new Date() };
        if (entry.probe) clearInterval(entry.probe);
        return this.#report(entry);
      });
      this.#watchReadiness(entry, container.readinessProbe?.httpGet, container.readinessProbe?.periodSeconds);
      await this.#report(entry);
      return;
    }
    const ports = (pod.spec?.containers ?? []).flatMap((c) =>
      (c.ports ?? []).filter((port) => (port.protocol ?? "TCP") === "TCP").map((port) => port.containerPort),
    );
    const sandbox = await this.#sandboxes.create({
      ns: sandboxNs(uid),
      uid,
      namespace,
      name,
      ports,
    });
    const entry: Running = {
      pod,
      sandbox,
      run: { state: "running", podIp: sandbox.ip, hostIp: this.node.ip, ready: true, started },
    };
    this.#running.set(uid, entry);
    await this.#report(entry);
  }

  /** The spec ConfigMap's key as the volume would hold it (the one ConfigMap volume the agent has). */
  async #configMapFile(pod: V1Pod, dir: string): Promise<string> {
    const volume = (pod.spec?.volumes ?? []).find((candidate) => candidate.configMap);
    const name = volume?.configMap?.name;
    if (!name) return "";
    const configMap = await this.#context.core.readNamespacedConfigMap({
      name,
      namespace: pod.metadata?.namespace ?? "",
    });
    const [key, value] = Object.entries(configMap.data ?? {})[0] ?? [];
    if (key === undefined || value === undefined) throw new Error(`ConfigMap ${name} holds no data`);
    const file = join(dir, key);
    await writeFileAtomic(file, value);
    return file;
  }

  #watchReadiness(
    entry: Running,
    httpGet: { host?: string; port: number | string; path?: string } | undefined,
    periodSeconds = 10,
  ): void {
    if (!httpGet) {
      if (entry.run.state === "running") entry.run.ready = true;
      return;
    }
    const url = `http://${httpGet.host ?? this.node.ip}:${httpGet.port}${httpGet.path ?? "/"}`;
    const probe = async () => {
      // prettier-ignore
      const result = await run("ip", ["netns", "exec", this.node.ns, "wget", "-q", "-O", "/dev/null", "-T", "2", "--tries=1", url], { okCodes: [0, 1, 4, 8] });
      if (entry.run.state !== "running") return;
      const ready = result.code === 0;
      if (ready === entry.run.ready) return;
      entry.run.ready = ready;
      await this.#report(entry);
    };
    // The first probe soon, then every period, as the kubelet's prober does.
    const first = Math.min(periodSeconds, 1) * 1000;
    setTimeout(() => void probe().catch(() => undefined), first);
    entry.probe = setInterval(() => void probe().catch(() => undefined), periodSeconds * 1000);
  }

  async #report(entry: Running): Promise<void> {
    const { core } = this.#context;
    const name = entry.pod.metadata?.name ?? "";
    const namespace = entry.pod.metadata?.namespace ?? "";
    const containers = (entry.pod.spec?.containers ?? []).map((c) => c.name);
    for (let attempt = 0; ; attempt++) {
      try {
        const pod = await core.readNamespacedPodStatus({ name, namespace });
        pod.status = podStatus(containers, entry.run, new Date());
        await core.replaceNamespacedPodStatus({ name, namespace, body: pod });
        return;
      } catch (error) {
        // A conflict with another writer: read again; a pod already gone has nothing to report.
        const code = (error as { code?: number }).code;
        if (code === 404) return;
        if (code !== 409 || attempt >= 3) throw error;
      }
    }
  }

  async #stop(uid: string): Promise<void> {
    const entry = this.#running.get(uid);
    if (!entry) return;
    this.#running.delete(uid);
    if (entry.probe) clearInterval(entry.probe);
    if (entry.program) await stopProgram(entry.program, 30_000);
    if (entry.sandbox) await this.#sandboxes.delete(entry.sandbox);
  }

  /** The agent's log on this node (the newest agent pod's), for a failure's explanation. */
  async agentLog(): Promise<string> {
    const program = [...this.programs().values()].at(-1);
    return program ? readFile(program.log, "utf8").catch(() => "") : "";
  }
}
