// The negative controls: each removes one piece of the product from the first node (or the VNet), reruns
// the checks that piece is for, and expects them to FAIL; then the piece is restored by the node agent.
// A check that cannot fail proves nothing.
import { join } from "node:path";
import { run } from "../../sys/exec.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { CONFLIST_FILE } from "../../cni/conflist.ts";
import { loadConflist } from "../../cni/runtime.ts";
import { MASQ_CHAIN } from "../../noderules/masquerade.ts";
import { HOST_DEVICE } from "../../hostpath/desired.ts";
import type { CheckId } from "../../verify/checks.ts";
import { runSuite } from "../../verify/suite.ts";
import type { ControlRun } from "../job.ts";
import type { Testbed } from "./cluster.ts";
import { VNET, nodeGateway } from "./topology.ts";
import { inNetns } from "./netns.ts";

const ETHERNET_MTU = 1500;
/** Azure's VNet fragments above 1,400 bytes (azure-docs, TCP/IP performance tuning). */
const NARROW_MTU = 1400;

interface Control {
  id: string;
  description: string;
  mustFail: CheckId[];
  /** Breaks the cluster; returns how to repair it. */
  apply(testbed: Testbed, node: string): Promise<() => Promise<void>>;
}

export const CONTROLS: readonly Control[] = [
  {
    id: "original-config",
    description: "the seed's original conflist: route to the node subnet only, gateway .1, no default route",
    mustFail: ["egress", "dns"],
    async apply(testbed, name) {
      const node = testbed.node(name);
      const file = join(node.dirs.confDir, CONFLIST_FILE);
      const conflist = await loadConflist(file);
      const ipam = conflist.plugins[0]!.ipam!;
      ipam.routes = [{ dst: testbed.spec.nodeSubnet }];
      for (const range of ipam.ranges!.flat()) range.gateway = nodeGateway(testbed.spec);
      await writeFileAtomic(file, `${JSON.stringify(conflist, null, 2)}\n`);
      return () => repairNode(testbed, name);
    },
  },
  {
    id: "no-masquerade",
    description: `the masquerade chain ${MASQ_CHAIN} emptied`,
    mustFail: ["egress"],
    async apply(testbed, name) {
      await inNetns(testbed.node(name).ns)("iptables-legacy", ["-t", "nat", "-F", MASQ_CHAIN]);
      return () => repairNode(testbed, name);
    },
  },
  {
    id: "no-vnet-routes",
    description: "the VNet route table without the plan's routes",
    mustFail: ["pod-to-pod-cross-node"],
    async apply(testbed) {
      await testbed.setRouteTable(false);
      return () => testbed.setRouteTable(true);
    },
  },
  {
    id: "narrow-vnet",
    description: `the VNet's link to the second node narrowed to ${NARROW_MTU} bytes`,
    mustFail: ["pod-mtu-cross-node"],
    async apply(testbed) {
      const device = testbed.topology.nodes[1]!.vnetDevice;
      const mtu = async (bytes: number) => {
        await run("ip", ["-n", VNET, "link", "set", "dev", device, "mtu", String(bytes)]);
      };
      await mtu(NARROW_MTU);
      return () => mtu(ETHERNET_MTU);
    },
  },
  {
    id: "no-host-device",
    description: `the host device ${HOST_DEVICE} deleted`,
    mustFail: ["node-to-pod"],
    async apply(testbed, name) {
      await run("ip", ["-n", testbed.node(name).ns, "link", "del", HOST_DEVICE]);
      return () => repairNode(testbed, name);
    },
  },
];

/** Sets the node up again the way its profile does (the product: the node agent). */
function repairNode(testbed: Testbed, name: string): Promise<void> {
  const node = testbed.node(name);
  return testbed.profile.setUpNode(node, node.plan, node.dirs);
}

export async function runControls(testbed: Testbed, log: (line: string) => void): Promise<ControlRun[]> {
  const [first] = await testbed.nodes();
  const runs: ControlRun[] = [];
  for (const control of CONTROLS) {
    log(`control ${control.id}: ${control.description}`);
    const repair = await control.apply(testbed, first!.name);
    const results = await runSuite(testbed, {
      runId: control.id,
      only: control.mustFail,
      expectFail: control.mustFail,
    });
    await repair();
    runs.push({ id: control.id, description: control.description, mustFail: control.mustFail, results });
  }
  return runs;
}
