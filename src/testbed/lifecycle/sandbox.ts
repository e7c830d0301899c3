// A workload pod's sandbox on an emulated node, as a container runtime makes it through CNI: a network
// namespace pinned under /run/netns (where the agent's NetworkPolicy finds it), the node's first
// network config (the conflist the agent wrote) run by the real plugins, and one busybox httpd per TCP
// container port as the pod's servers. Deleting it stops its processes, runs CNI DEL and unpins the
// namespace.
import { readdir } from "node:fs/promises";
import { z } from "zod";
import { join } from "node:path";
import { CniRuntime, loadConflist, type Attachment } from "../../cni/runtime.ts";
import type { Conflist } from "../../cni/schema.ts";
import { run } from "../../sys/exec.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { inNetns, ipBatch } from "../guest/netns.ts";
import { startHttpd } from "../guest/endpoints.ts";
import { CNI_BIN_DIR } from "../guest/node-setup.ts";

export interface Sandbox {
  ns: string;
  ip: string;
  attachment: Attachment;
  conflist: Conflist;
}

/** The part of a CNI result the runtime reads: the pod's addresses, CIDR notation. */
const CniIps = z.array(z.looseObject({ address: z.string() }));

/** The network namespace of a pod's sandbox, named by its UID (names may repeat over time; UIDs do not). */
export function sandboxNs(uid: string): string {
  return `pod-${uid.slice(0, 8)}`;
}

export class NetworkNotReadyError extends Error {
  constructor(confDir: string) {
    super(`NetworkPluginNotReady: no CNI network config in ${confDir} yet`);
    this.name = "NetworkNotReadyError";
  }
}

/** The runtime's choice: the first network config by name, as containerd's CNI loader takes it. */
async function firstNetwork(confDir: string): Promise<Conflist> {
  const names = await readdir(confDir).catch(() => [] as string[]);
  const first = names.filter((name) => /\.(conflist|conf|json)$/.test(name)).sort()[0];
  if (first === undefined) throw new NetworkNotReadyError(confDir);
  return loadConflist(join(confDir, first));
}

export class SandboxRuntime {
  readonly #cni: CniRuntime;
  readonly #confDir: string;
  readonly #nodeNs: string;
  readonly #www: string;

  constructor(nodeNs: string, dirs: { confDir: string; cacheDir: string; www: string }) {
    this.#nodeNs = nodeNs;
    this.#confDir = dirs.confDir;
    this.#www = dirs.www;
    this.#cni = new CniRuntime({
      pluginDirs: [CNI_BIN_DIR],
      cacheDir: dirs.cacheDir,
      runner: inNetns(nodeNs),
    });
  }

  async create(pod: {
    ns: string;
    uid: string;
    namespace: string;
    name: string;
    ports: number[];
  }): Promise<Sandbox> {
    const conflist = await firstNetwork(this.#confDir);
    await run("ip", ["netns", "add", pod.ns]);
    const attachment: Attachment = {
      containerId: pod.uid,
      netns: `/run/netns/${pod.ns}`,
      ifName: "eth0",
      args: [
        ["IgnoreUnknown", "1"],
        ["K8S_POD_NAMESPACE", pod.namespace],
        ["K8S_POD_NAME", pod.name],
        ["K8S_POD_UID", pod.uid],
      ],
    };
    let ip: string;
    try {
      const result = await this.#cni.add(conflist, attachment);
      const ips = CniIps.parse(result.ips ?? []);
      const address = ips.map((entry) => entry.address).find((candidate) => candidate.includes("."));
      if (!address) throw new Error(`CNI ADD for ${pod.namespace}/${pod.name} returned no IPv4 address`);
      ip = address.split("/")[0]!;
    } catch (error) {
      await run("ip", ["netns", "del", pod.ns]);
      throw error;
    }
    await ipBatch(pod.ns, ["link set lo up"]);
    await writeFileAtomic(join(this.#www, "index.html"), "emulated pod\n");
    for (const port of pod.ports) await startHttpd(pod.ns, String(port), this.#www);
    return { ns: pod.ns, ip, attachment, conflist };
  }

  async delete(sandbox: Sandbox): Promise<void> {
    const pids = (await run("ip", ["netns", "pids", sandbox.ns])).stdout.split("\n").filter(Boolean);
    if (pids.length > 0) await run("kill", ["-KILL", ...pids], { okCodes: [0, 1] });
    await this.#cni.del(sandbox.conflist, sandbox.attachment);
    await run("ip", ["netns", "del", sandbox.ns]);
  }

  /** The node's namespace, where its host-network pods (the agent) run. */
  get nodeNs(): string {
    return this.#nodeNs;
  }
}
