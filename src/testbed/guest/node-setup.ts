// How an emulated node gets its pod networking. `product`: the real node agent (`aks-ipvlan agent
// --once`) runs in the node's namespace, and the VNet route table holds the plan's routes (or the
// controller's, when the job gives them). `seed`: the seed's configuration exactly as written: a
// hand-made conflist per node (route 0.0.0.0/0, host-local subnet = the node's block), one MASQUERADE
// rule, ip_forward=1, no VNet routes, no host device, no portmap, no metadata protection.
import { join } from "node:path";
import type { ClusterSpec } from "../../spec/schema.ts";
import type { NodePlan, Plan } from "../../ipam/planner.ts";
import type { RouteEntry } from "../../routes/routes.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { CONFLIST_FILE, conflistText, type Conflist } from "../../cni/conflist.ts";
import { inNetns, iptablesRestore, sysctls } from "./netns.ts";
import { guestCli } from "../bundle.ts";
import type { CheckId } from "../../verify/checks.ts";
import type { EmulatedNode } from "./topology.ts";

export const CNI_BIN_DIR = "/usr/lib/cni";

export interface NodeDirs {
  confDir: string;
  ipamDataDir: string;
  cacheDir: string;
}

export function nodeDirs(root: string, node: string): NodeDirs {
  return {
    confDir: join(root, node, "net.d"),
    ipamDataDir: join(root, node, "ipam"),
    cacheDir: join(root, node, "cni-cache"),
  };
}

type ProfileName = "product" | "seed";

export interface Profile {
  name: ProfileName;
  /** The VNet route table's entries. */
  routes(plan: Plan): RouteEntry[];
  setUpNode(node: EmulatedNode, plan: NodePlan, dirs: NodeDirs): Promise<void>;
}

/** `vnetRoutes`: the route table to program instead of the plan's (the controller's, read from Azure). */
export function productProfile(specFile: string, vnetRoutes?: readonly RouteEntry[]): Profile {
  return {
    name: "product",
    routes: (plan) => (vnetRoutes ? [...vnetRoutes] : plan.routes),
    setUpNode: async (node, _plan, dirs) => void (await runAgentOnce(specFile, node, dirs)),
  };
}

/**
 * How the guest starts a short-lived agent (`--once`: start, one reconcile, exit). `--jitless`: no
 * optimising compilers, so no code pages to map and flip between writable and executable, each a
 * trapped system call in UML; a reconcile is mostly waiting for iptables and ip, where the interpreter
 * loses nothing measurable. Measured with bench/agent-start.ts in the UML guest (machine loaded): one
 * start 4.2 → 3.2 s, three at once 13.5 → 11.9 s. V8's compile cache (NODE_COMPILE_CACHE on the
 * guest's tmpfs) gained a little more on warm starts only; the demo's three agents start cold, where
 * writing the cache is pure cost, so it is not used. WebAssembly, which jitless turns off (and warns
 * about unless told), is used only by fetch, which `--once` never calls.
 */
const AGENT_NODE_FLAGS = ["--jitless", "--no-expose-wasm"];

/**
 * One reconcile of the real node agent inside the node's namespace; returns its JSON summary, throws
 * with it on failure.
 */
export async function runAgentOnce(specFile: string, node: EmulatedNode, dirs: NodeDirs): Promise<string> {
  // prettier-ignore
  const { stdout } = await inNetns(node.ns)(process.execPath, [
    ...AGENT_NODE_FLAGS, guestCli(), "agent", "--once",
    "--config", specFile, "--node", node.name,
    "--cni-conf-dir", dirs.confDir, "--cni-bin-dir", CNI_BIN_DIR, "--ipam-data-dir", dirs.ipamDataDir,
  ], { env: { ...process.env, AKS_IPVLAN_IPTABLES: "legacy" } });
  return stdout;
}

/**
 * The checks the seed's configuration as written fails, each for a piece it lacks (VNet routes: every
 * path to another node, the cluster DNS pod on the last node included; the host device: the node's
 * own paths to its pods; portmap; metadata protection): its silence there is expected, not tried
 * again (verify/checks.ts).
 */
export const SEED_GAPS: readonly CheckId[] = [
  "dns",
  "pod-to-pod-cross-node",
  "pod-mtu-cross-node",
  "node-to-pod",
  "pod-to-own-node",
  "clusterip-same-node",
  "clusterip-cross-node",
  "nodeport-cross-node",
  "hostport",
  "wireserver-closed",
  "imds-closed",
];

export function seedProfile(spec: ClusterSpec): Profile {
  return {
    name: "seed",
    routes: () => [],
    async setUpNode(node, plan, dirs) {
      const block = plan.blocks[0]!.cidr;
      await writeFileAtomic(join(dirs.confDir, CONFLIST_FILE), conflistText(seedConflist(spec, block, dirs)));
      await sysctls(node.ns, { "net.ipv4.ip_forward": "1" });
      await iptablesRestore(
        node.ns,
        ["*nat", `-A POSTROUTING -s ${block} ! -d ${spec.nodeSubnet} -j MASQUERADE`, "COMMIT", ""].join("\n"),
      );
    },
  };
}

function seedConflist(spec: ClusterSpec, block: string, dirs: NodeDirs): Conflist {
  return {
    cniVersion: "0.4.0",
    name: "ipvlan-net",
    plugins: [
      {
        type: "ipvlan",
        master: spec.masterInterface,
        mode: "l3s",
        ipam: {
          type: "host-local",
          subnet: block,
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: dirs.ipamDataDir,
        },
      },
    ],
  };
}
