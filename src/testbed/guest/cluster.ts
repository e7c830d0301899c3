// The emulated AKS cluster inside the guest, driven through the verification suite's ClusterDriver:
// builds the VNet, Azure endpoints, internet host and nodes from the spec and the plan, sets up each node
// with the chosen profile, and runs pods as network namespaces wired by the real CNI plugins through the
// runtime in src/cni/runtime.ts. Emulates: the kubelet's CNI calls (the first conflist in the node's
// conf dir), kube-proxy's nat rules, a cluster DNS pod behind the kube-dns ClusterIP. Leaves out:
// the API server, scheduling, container images (a pod's processes are the guest's own programs).
import { spawn } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ClusterSpec } from "../../spec/schema.ts";
import { plan as planCluster, type NodePlan, type Plan } from "../../ipam/planner.ts";
import type { RouteEntry } from "../../routes/routes.ts";
import { run } from "../../sys/exec.ts";
import { CniRuntime, loadConflist, type Attachment, type CniResult } from "../../cni/runtime.ts";
import type {
  ClusterDriver,
  Environment,
  ExecOptions,
  ExecResult,
  ExternalClient,
  NodeRef,
  PodRef,
  PodRequest,
  ServiceRef,
  ServiceRequest,
} from "../../verify/driver.ts";
import { inNetns, ipBatch, iptablesRestore, netnsArgv, probe, sysctls } from "./netns.ts";
import {
  INTERNET,
  INTERNET_IP,
  VNET,
  renderTopology,
  routeTableCommands,
  type EmulatedNode,
  type Topology,
} from "./topology.ts";
import {
  CLIENT_IP_PATH,
  DNS_NAME,
  ECHO_URL,
  HTTP_PORT,
  startDnsmasq,
  startEndpoints,
  startHttpd,
} from "./endpoints.ts";
import { KUBE_PROXY_JUMPS, renderServiceRules } from "./kube-proxy.ts";
import { CLUSTER_DNS_IP, ServiceRegistry } from "./services.ts";
import { CNI_BIN_DIR, nodeDirs, type NodeDirs, type Profile } from "./node-setup.ts";
import { WIRESERVER } from "../../noderules/azure-endpoints.ts";

const DEFAULT_TIMEOUT_MS = 10_000;

interface Node extends EmulatedNode {
  plan: NodePlan;
  dirs: NodeDirs;
  runtime: CniRuntime;
}

interface Pod extends PodRef {
  ns: string;
  attachment: Attachment;
}

export class Testbed implements ClusterDriver {
  readonly name: string;
  readonly spec: ClusterSpec;
  readonly plan: Plan;
  readonly topology: Topology;
  readonly profile: Profile;
  readonly #root: string;
  readonly #nodes: Node[];
  readonly #pods = new Map<string, Pod>();
  readonly #services = new ServiceRegistry();
  /** The VNet route table's entries now: the profile's, until switchRouteTable. */
  #routes: RouteEntry[];
  #www = "";

  private constructor(spec: ClusterSpec, profile: Profile, root: string) {
    this.spec = spec;
    this.profile = profile;
    this.name = `testbed (${profile.name})`;
    this.#root = root;
    this.plan = planCluster(spec);
    this.topology = renderTopology(spec, this.plan);
    // vxlan: the VNet routes NIC addresses only (the tunnel's UDP between them), never a pod block.
    this.#routes = spec.routing.mode === "vxlan" ? [] : profile.routes(this.plan);
    this.#nodes = this.topology.nodes.map((node, index) => {
      const dirs = nodeDirs(root, node.name);
      return {
        ...node,
        plan: this.plan.nodes[index]!,
        dirs,
        runtime: new CniRuntime({
          pluginDirs: [CNI_BIN_DIR],
          cacheDir: dirs.cacheDir,
          runner: inNetns(node.ns),
        }),
      };
    });
  }

  /** Builds the whole cluster; `root` is a guest tmpfs directory for the nodes' files. */
  static async build(spec: ClusterSpec, profile: Profile, root: string): Promise<Testbed> {
    const testbed = new Testbed(spec, profile, root);
    await testbed.#buildNetwork();
    // On a node the kernel loads it at the agent's `link add … type vxlan`; the guest loads modules itself.
    if (spec.routing.mode === "vxlan") await run("modprobe", ["vxlan"]);
    ({ www: testbed.#www } = await startEndpoints(root));
    for (const node of testbed.#nodes) await iptablesRestore(node.ns, KUBE_PROXY_JUMPS);
    // In parallel: a node agent spends much of its start reading modules through hostfs.
    await Promise.all(testbed.#nodes.map((node) => profile.setUpNode(node, node.plan, node.dirs)));
    const dnsNode = testbed.#nodes[testbed.#nodes.length - 1]!;
    const dns = await testbed.createPod({ name: "cluster-dns", node: dnsNode.name, role: "dns" });
    await testbed.#addService(
      { name: "kube-dns", backend: dns, type: "ClusterIP", protocol: "UDP", port: 53, targetPort: 53 },
      CLUSTER_DNS_IP,
    );
    return testbed;
  }

  async #buildNetwork(): Promise<void> {
    const topology = this.topology;
    await ipBatch(
      undefined,
      topology.namespaces.map((ns) => `netns add ${ns}`),
    );
    await ipBatch(undefined, topology.links);
    for (const [ns, values] of Object.entries(topology.sysctls)) await sysctls(ns, values);
    for (const [ns, commands] of Object.entries(topology.setup)) await ipBatch(ns, commands);
    await ipBatch(VNET, routeTableCommands(topology, this.#routes, "add"));
    await iptablesRestore(VNET, topology.vnetFilter);
  }

  /** Removes every namespace (and with them pods, links, rules) and the nodes' files. */
  async teardown(): Promise<void> {
    const namespaces = [...[...this.#pods.values()].map((pod) => pod.ns), ...this.topology.namespaces];
    for (const ns of namespaces) await killAll(ns);
    await ipBatch(
      undefined,
      namespaces.map((ns) => `netns del ${ns}`),
    );
    await rm(this.#root, { recursive: true, force: true });
  }

  node(name: string): Node {
    const node = this.#nodes.find((candidate) => candidate.name === name);
    if (!node) throw new Error(`no node ${name} in the testbed`);
    return node;
  }

  /** The VNet route table: remove (a negative control) or restore its entries. */
  async setRouteTable(present: boolean): Promise<void> {
    await ipBatch(VNET, routeTableCommands(this.topology, this.#routes, present ? "add" : "del"));
  }

  /** Replaces the VNet route table's entries, as Azure does when the route table changes. */
  async switchRouteTable(routes: readonly RouteEntry[]): Promise<void> {
    const key = (route: RouteEntry) => `${route.addressPrefix} via ${route.nextHopIpAddress}`;
    const next = new Set(routes.map(key));
    const now = new Set(this.#routes.map(key));
    await ipBatch(VNET, [
      ...routeTableCommands(
        this.topology,
        this.#routes.filter((route) => !next.has(key(route))),
        "del",
      ),
      ...routeTableCommands(
        this.topology,
        routes.filter((route) => !now.has(key(route))),
        "add",
      ),
    ]);
    this.#routes = [...routes];
  }

  async environment(): Promise<Environment> {
    return {
      echoUrl: ECHO_URL,
      expectedEgressSource: (node) => node.ip,
      clusterDnsIp: CLUSTER_DNS_IP,
      dnsName: DNS_NAME,
      dnsAddress: INTERNET_IP,
      httpPort: HTTP_PORT,
      clientIpPath: CLIENT_IP_PATH,
    };
  }

  async nodes(): Promise<NodeRef[]> {
    return this.#nodes.map((node) => ({ name: node.name, ip: node.ip }));
  }

  async createPod(request: PodRequest): Promise<PodRef> {
    const node = this.node(request.node);
    const ns = `p-${request.name}`;
    if (this.#pods.has(request.name)) throw new Error(`pod ${request.name} exists`);
    await run("ip", ["netns", "add", ns]);
    const attachment: Attachment = {
      containerId: ns,
      netns: `/run/netns/${ns}`,
      ifName: "eth0",
      // As the kubelet passes them; IgnoreUnknown lets plugins that take no K8S_* args accept them.
      args: [
        ["IgnoreUnknown", "1"],
        ["K8S_POD_NAMESPACE", "default"],
        ["K8S_POD_NAME", request.name],
      ],
      ...(request.hostPort === undefined
        ? {}
        : {
            capabilityArgs: {
              portMappings: [{ hostPort: request.hostPort, containerPort: HTTP_PORT, protocol: "tcp" }],
            },
          }),
    };
    let ip: string;
    try {
      const result = await node.runtime.add(await kubeletConflist(node.dirs.confDir), attachment);
      ip = podIp(result);
    } catch (error) {
      await run("ip", ["netns", "del", ns]);
      throw error;
    }
    const pod: Pod = { name: request.name, node: node.name, ip, role: request.role, ns, attachment };
    this.#pods.set(pod.name, pod);
    await ipBatch(ns, ["link set lo up"]);
    if (request.role === "http") await startHttpd(ns, String(HTTP_PORT), this.#www);
    if (request.role === "dns") await startDnsmasq(ns, [`--server=${WIRESERVER}`]);
    return { name: pod.name, node: pod.node, ip: pod.ip, role: pod.role };
  }

  async deletePod(ref: PodRef): Promise<void> {
    const pod = this.#pods.get(ref.name);
    if (!pod) return;
    const node = this.node(pod.node);
    await killAll(pod.ns);
    await node.runtime.del(await kubeletConflist(node.dirs.confDir), pod.attachment);
    await run("ip", ["netns", "del", pod.ns]);
    this.#pods.delete(pod.name);
  }

  execInPod(ref: PodRef, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    const pod = this.#pods.get(ref.name);
    if (!pod) throw new Error(`no pod ${ref.name}`);
    return execIn(pod.ns, argv, options);
  }

  /** Starts a server in the pod that runs until the teardown kills the pod's processes. */
  startInPod(ref: PodRef, argv: string[]): void {
    const pod = this.#pods.get(ref.name);
    if (!pod) throw new Error(`no pod ${ref.name}`);
    const [enter, ...rest] = netnsArgv(pod.ns, argv);
    spawn(enter!, rest, { detached: true, stdio: "ignore" }).unref();
  }

  execOnNode(ref: NodeRef, argv: string[], options?: ExecOptions): Promise<ExecResult> {
    return execIn(this.node(ref.name).ns, argv, options);
  }

  async createService(request: ServiceRequest): Promise<ServiceRef> {
    return this.#addService(request);
  }

  async #addService(request: ServiceRequest, clusterIP?: string): Promise<ServiceRef> {
    const service = this.#services.add(
      {
        name: request.name,
        protocol: request.protocol,
        port: request.port,
        endpoint: { ip: request.backend.ip, port: request.targetPort },
      },
      { nodePort: request.type === "NodePort", ...(clusterIP ? { clusterIP } : {}) },
    );
    await this.#syncServices();
    return {
      name: service.name,
      clusterIP: service.clusterIP,
      port: service.port,
      protocol: service.protocol,
      ...(service.nodePort === undefined ? {} : { nodePort: service.nodePort }),
    };
  }

  async deleteService(service: ServiceRef): Promise<void> {
    this.#services.remove(service.name);
    await this.#syncServices();
  }

  externalClient(): ExternalClient {
    return { supported: true, exec: (argv, options) => execIn(INTERNET, argv, options) };
  }

  async #syncServices(): Promise<void> {
    const payload = renderServiceRules(this.#services.list(), {
      ...(this.spec.podPool.length === 1 ? { podCidr: this.spec.podPool[0] } : {}),
      retired: this.#services.retired(),
    });
    for (const node of this.#nodes) await iptablesRestore(node.ns, payload);
    this.#services.synced();
  }
}

/** The kubelet's choice (containerd's): the first network config file in lexical order. */
async function kubeletConflist(confDir: string) {
  const files = (await readdir(confDir).catch(() => []))
    .filter((file) => /\.(conflist|conf|json)$/.test(file))
    .sort();
  if (files.length === 0) throw new Error(`no CNI network config in ${confDir}`);
  return loadConflist(join(confDir, files[0]!));
}

function podIp(result: CniResult): string {
  const ips = (result.ips ?? []) as Array<{ address?: string }>;
  const address = ips.find((entry) => entry.address?.includes("."))?.address;
  if (!address) throw new Error(`CNI ADD returned no IPv4 address: ${JSON.stringify(result)}`);
  return address.split("/")[0]!;
}

async function execIn(ns: string, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  const outcome = await probe(netnsArgv(ns, argv), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return { argv, ...outcome, durationMs: Math.round(performance.now() - started) };
}

async function killAll(ns: string): Promise<void> {
  const { stdout } = await probe(["ip", "netns", "pids", ns], DEFAULT_TIMEOUT_MS);
  for (const pid of stdout.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}
