// How an emulated node gets its pod networking. `product`: the real node agent (`aks-ipvlan agent
// --once`) runs in the node's namespace, and the VNet route table holds the plan's routes (or the
// controller's, when the job gives them). `seed`: the seed's configuration exactly as written: a
// hand-made conflist per node (route 0.0.0.0/0, host-local subnet = the node's block), one MASQUERADE
// rule, ip_forward=1, no VNet routes, no host device, no portmap, no metadata protection.
import { extname, join, resolve } from "node:path";
import type { ClusterSpec } from "../../spec/schema.ts";
import type { NodePlan, Plan } from "../../ipam/planner.ts";
import type { RouteEntry } from "../../routes/routes.ts";
import { run } from "../../sys/exec.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { CONFLIST_FILE, conflistText, type Conflist } from "../../cni/conflist.ts";
import { iptablesRestore, sysctls } from "./netns.ts";
import type { EmulatedNode } from "./topology.ts";

export const CNI_BIN_DIR = "/usr/lib/cni";
/** The CLI beside this module: src/cli/main.ts in a clone, dist/cli/main.js in the installed package. */
const CLI = resolve(import.meta.dirname, `../../cli/main${extname(import.meta.filename)}`);

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
    setUpNode: (node, _plan, dirs) => runAgentOnce(specFile, node, dirs),
  };
}

/** One reconcile of the real node agent inside the node's namespace; throws with its JSON summary on failure. */
async function runAgentOnce(specFile: string, node: EmulatedNode, dirs: NodeDirs): Promise<void> {
  // prettier-ignore
  await run("ip", [
    "netns", "exec", node.ns,
    process.execPath, CLI, "agent", "--once",
    "--config", specFile, "--node", node.name,
    "--cni-conf-dir", dirs.confDir, "--cni-bin-dir", CNI_BIN_DIR, "--ipam-data-dir", dirs.ipamDataDir,
  ], { env: { ...process.env, AKS_IPVLAN_IPTABLES: "legacy" } });
}

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
