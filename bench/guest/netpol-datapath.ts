// The guest half of bench/netpol-datapath.ts (runs on the testbed's kernel): what NetworkPolicy
// enforcement costs the datapath. iperf3 pod to pod (same node, cross node) with no policy and with
// policies that isolate both pods and allow the traffic, in interleaved rounds; and CNI ADD with the
// node's fail-closed enforcer idle vs. syncing at every new sandbox, as the agent does on its event.
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { run } from "../../src/sys/exec.ts";
import { loadSpec } from "../../src/spec/load.ts";
import { CniRuntime, loadConflist } from "../../src/cni/runtime.ts";
import { CONFLIST_FILE } from "../../src/cni/conflist.ts";
import { Testbed } from "../../src/testbed/guest/cluster.ts";
import { CNI_BIN_DIR, productProfile } from "../../src/testbed/guest/node-setup.ts";
import { inNetns } from "../../src/testbed/guest/netns.ts";
import { RESULT_FILE, readJsonFile } from "../../src/testbed/job.ts";

import type { NetworkPolicy, PolicyWorld } from "../../src/policy/model.ts";
import type { NodeRef, PodRef } from "../../src/verify/driver.ts";
import { IperfReport } from "./datapath-files.ts";
import { testbedEnforcer } from "../../src/testbed/guest/policies.ts";
import { NetpolBenchJobSchema, type NetpolBenchResult } from "./netpol-datapath-files.ts";

const ROOT = "/run/netpol-bench";

/** Both directions of `bench` isolated, TCP 5201 (iperf3's data and control) allowed among its pods. */
const ALLOW_IPERF: NetworkPolicy = {
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: "allow-iperf", namespace: "bench" },
  spec: {
    podSelector: {},
    policyTypes: ["Ingress", "Egress"],
    ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: "TCP", port: 5201 }] }],
    egress: [{ to: [{ podSelector: {} }], ports: [{ protocol: "TCP", port: 5201 }] }],
  },
};

async function main(jobFile: string): Promise<void> {
  const job = await readJsonFile(jobFile, NetpolBenchJobSchema);
  const result: NetpolBenchResult = {
    iperf: { none: { sameNode: [], crossNode: [] }, allowed: { sameNode: [], crossNode: [] } },
    cniAddMs: { idle: [], enforcing: [] },
  };
  try {
    const spec = await loadSpec(job.specFile);
    const testbed = await Testbed.build(spec, productProfile(job.specFile), ROOT);
    const [a, b] = await testbed.nodes();
    const enforcerOf = (node: NodeRef, failClosed: boolean) =>
      testbedEnforcer(testbed, node, { failClosed, stateDir: ROOT });
    const enforcers = [enforcerOf(a!, false), enforcerOf(b!, false)];

    const client = await testbed.createPod({ name: "iperf-client", node: a!.name, role: "client" });
    const same = await testbed.createPod({ name: "iperf-same", node: a!.name, role: "client" });
    const cross = await testbed.createPod({ name: "iperf-cross", node: b!.name, role: "client" });
    const asPolicyPod = (pod: PodRef) => ({
      namespace: "bench",
      name: pod.name,
      ip: pod.ip,
      node: pod.node,
      labels: { app: pod.name },
      ports: [],
    });
    const world = (policies: NetworkPolicy[]): PolicyWorld => ({
      pods: [client, same, cross].map(asPolicyPod),
      namespaces: [{ name: "bench", labels: {} }],
      policies,
    });
    const enforce = async (policies: NetworkPolicy[]) => {
      const reports = await Promise.all(enforcers.map((enforcer) => enforcer.sync(world(policies))));
      const failed = reports.flatMap((r) => [...r.failed.map((f) => f.error), ...r.unlocated]);
      if (failed.length > 0) throw new Error(`enforcement failed: ${failed.join("; ")}`);
    };
    const timeout = { timeoutMs: (job.iperfSeconds + 30) * 1000 };
    const iperf = async (server: PodRef): Promise<number> => {
      const serving = await testbed.execInPod(server, ["iperf3", "-s", "-D", "-1"]);
      if (serving.code !== 0) throw new Error(`iperf3 server: ${serving.stderr}`);
      const outcome = await testbed.execInPod(
        client,
        ["iperf3", "-c", server.ip, "-t", String(job.iperfSeconds), "-J"],
        timeout,
      );
      if (outcome.code !== 0) throw new Error(`iperf3 to ${server.ip}: ${outcome.stderr || outcome.stdout}`);
      return IperfReport.parse(JSON.parse(outcome.stdout)).end.sum_received.bits_per_second / 1e9;
    };
    for (let round = 0; round < job.iperfRounds; round++) {
      // Alternate which mode goes first, so a slow moment of the machine does not favour one.
      const modes = round % 2 === 0 ? (["none", "allowed"] as const) : (["allowed", "none"] as const);
      for (const mode of modes) {
        await enforce(mode === "allowed" ? [ALLOW_IPERF] : []);
        result.iperf[mode].sameNode.push(await iperf(same));
        result.iperf[mode].crossNode.push(await iperf(cross));
      }
      process.stdout.write(`bench: iperf3 round ${round + 1} done\n`);
    }
    await enforce([]);

    // CNI ADD on node a, through the runtime as the kubelet's containerd does; "enforcing": the
    // fail-closed enforcer syncs (lists the sandboxes, isolates the new one) while the ADD runs.
    const node = testbed.node(a!.name);
    const runtime = new CniRuntime({
      pluginDirs: [CNI_BIN_DIR],
      cacheDir: join(ROOT, "cni-cache"),
      runner: inNetns(node.ns),
    });
    const conflist = await loadConflist(join(node.dirs.confDir, CONFLIST_FILE));
    const failClosed = enforcerOf(a!, true);
    await failClosed.sync(world([ALLOW_IPERF]));
    const add = async (name: string, enforcing: boolean): Promise<number> => {
      await run("ip", ["netns", "add", name]);
      const attachment = { containerId: name, netns: `/run/netns/${name}`, ifName: "eth0" };
      const started = performance.now();
      const sync = enforcing ? failClosed.sync(world([ALLOW_IPERF])) : Promise.resolve(undefined);
      await runtime.add(conflist, attachment);
      const ms = performance.now() - started;
      await sync;
      await runtime.del(conflist, attachment);
      await run("ip", ["netns", "del", name]);
      return ms;
    };
    await add("warm", false);
    for (let i = 0; i < job.cniPods; i++) {
      const order = i % 2 === 0 ? [false, true] : [true, false];
      for (const enforcing of order)
        result.cniAddMs[enforcing ? "enforcing" : "idle"].push(await add(`add-${i}-${enforcing}`, enforcing));
    }
    process.stdout.write(`bench: CNI ADD x${job.cniPods} each way done\n`);
    await testbed.teardown();
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
}

await main(process.argv[2]!);
