// The guest half of bench/datapath.ts (runs on the testbed's kernel): builds the product's cluster from
// the spec, times CNI ADD and DEL through the runtime for our conflist and for the bridge plugin on the
// same node, and measures iperf3 pod-to-pod (same node, cross node) and node-to-node in interleaved
// rounds, so that a busy moment of the machine lowers one sample of each path, not all of one path.
import { dirname, join } from "node:path";
import { run } from "../../src/sys/exec.ts";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { loadSpec } from "../../src/spec/load.ts";
import { CniRuntime, loadConflist, type Attachment } from "../../src/cni/runtime.ts";
import { CONFLIST_FILE, type Conflist } from "../../src/cni/conflist.ts";
import { Testbed } from "../../src/testbed/guest/cluster.ts";
import { CNI_BIN_DIR, productProfile } from "../../src/testbed/guest/node-setup.ts";
import { inNetns } from "../../src/testbed/guest/netns.ts";
import { RESULT_FILE, readJsonFile } from "../../src/testbed/job.ts";
import {
  BenchJobSchema,
  IPERF_PATHS,
  IperfReport,
  type BenchResult,
  type IperfPath,
  type Timings,
} from "./datapath-files.ts";
import type { ExecResult } from "../../src/verify/driver.ts";

const BRIDGE: Conflist = {
  cniVersion: "1.0.0",
  name: "bench-bridge",
  plugins: [
    {
      type: "bridge",
      bridge: "cni0",
      isGateway: true,
      ipam: { type: "host-local", subnet: "10.250.0.0/16", dataDir: "/run/bench/bridge-ipam" },
    },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

/** ADD then DEL one round of pods with `conflist`, timing each call into `timings`. */
async function timeRound(
  runtime: CniRuntime,
  conflist: Conflist,
  names: string[],
  timings: Timings,
): Promise<void> {
  const batch: Attachment[] = [];
  for (const ns of names) {
    await run("ip", ["netns", "add", ns]);
    batch.push({ containerId: ns, netns: `/run/netns/${ns}`, ifName: "eth0" });
  }
  for (const attachment of batch) {
    const started = performance.now();
    await runtime.add(conflist, attachment);
    timings.addMs.push(performance.now() - started);
  }
  for (const attachment of batch) {
    const started = performance.now();
    await runtime.del(conflist, attachment);
    timings.delMs.push(performance.now() - started);
    await run("ip", ["netns", "del", attachment.containerId]);
  }
}

/**
 * Both conflists in alternating rounds no larger than the node's free addresses, after one unrecorded
 * warm-up round each (the first exec of a plugin reads it through hostfs), so neither gets the warm cache.
 */
async function timeCni(
  runtime: CniRuntime,
  lists: Record<"ipvlan" | "bridge", Conflist>,
  pods: number,
  round: number,
): Promise<BenchResult["cni"]> {
  const timings = { ipvlan: { addMs: [], delMs: [] }, bridge: { addMs: [], delMs: [] } };
  for (const [name, conflist] of Object.entries(lists)) {
    await timeRound(runtime, conflist, [`warm-${name}`], { addMs: [], delMs: [] });
  }
  for (let done = 0; done < pods; done += round) {
    const size = Math.min(round, pods - done);
    for (const name of ["ipvlan", "bridge"] as const) {
      const names = Array.from({ length: size }, (_, index) => `bench-${name}-${done + index}`);
      await timeRound(runtime, lists[name], names, timings[name]);
    }
  }
  return timings;
}

/** Gbit/s the iperf3 server received, from the client's JSON report. */
function receivedGbps(outcome: ExecResult, target: string): number {
  if (outcome.code !== 0) throw new Error(`iperf3 to ${target}: ${outcome.stderr || outcome.stdout}`);
  const report = IperfReport.parse(JSON.parse(outcome.stdout));
  return report.end.sum_received.bits_per_second / 1e9;
}

async function main(jobFile: string): Promise<void> {
  const job = await readJsonFile(jobFile, BenchJobSchema);
  const result: BenchResult = {
    cni: { ipvlan: { addMs: [], delMs: [] }, bridge: { addMs: [], delMs: [] } },
    iperf: { podSameNode: [], podCrossNode: [], nodeToNode: [] },
  };
  try {
    const spec = await loadSpec(job.specFile);
    const testbed = await Testbed.build(spec, productProfile(job.specFile), "/run/bench");
    const [a, b] = await testbed.nodes();
    const node = testbed.node(a!.name);
    const runtime = new CniRuntime({
      pluginDirs: [CNI_BIN_DIR],
      cacheDir: "/run/bench/cache",
      runner: inNetns(node.ns),
    });
    const ours = await loadConflist(join(node.dirs.confDir, CONFLIST_FILE));
    // Leave room for the pods the bench creates later.
    const round = Math.max(1, Math.min(10, node.plan.capacity - 4));
    process.stdout.write(`bench: CNI ADD/DEL x${job.pods} (rounds of ${round})\n`);
    result.cni = await timeCni(runtime, { ipvlan: ours, bridge: BRIDGE }, job.pods, round);

    process.stdout.write(`bench: iperf3 ${job.iperfRounds} rounds of ${job.iperfSeconds} s per path\n`);
    const pod = (name: string, on: string) => testbed.createPod({ name, node: on, role: "client" });
    const from = await pod("iperf-client", a!.name);
    const sameNode = await pod("iperf-same", a!.name);
    const crossNode = await pod("iperf-cross", b!.name);
    const timeout = { timeoutMs: (job.iperfSeconds + 20) * 1000 };
    // Each path: where its one-off server runs, and its client's run towards it.
    const paths: Record<
      IperfPath,
      {
        serve: (argv: string[]) => Promise<ExecResult>;
        client: (argv: string[]) => Promise<ExecResult>;
        target: string;
      }
    > = {
      podSameNode: {
        serve: (argv) => testbed.execInPod(sameNode, argv),
        client: (argv) => testbed.execInPod(from, argv, timeout),
        target: sameNode.ip,
      },
      podCrossNode: {
        serve: (argv) => testbed.execInPod(crossNode, argv),
        client: (argv) => testbed.execInPod(from, argv, timeout),
        target: crossNode.ip,
      },
      nodeToNode: {
        serve: (argv) => testbed.execOnNode(b!, argv),
        client: (argv) => testbed.execOnNode(a!, argv, timeout),
        target: b!.ip,
      },
    };
    for (let round = 0; round < job.iperfRounds; round++) {
      for (const name of IPERF_PATHS) {
        const path = paths[name];
        // -D returns once the server listens; -1 ends it after this one client.
        const server = await path.serve(["iperf3", "-s", "-D", "-1"]);
        if (server.code !== 0) throw new Error(`iperf3 server for ${name}: ${server.stderr}`);
        const client = await path.client(["iperf3", "-c", path.target, "-t", String(job.iperfSeconds), "-J"]);
        result.iperf[name].push(receivedGbps(client, path.target));
      }
      process.stdout.write(`bench: iperf3 round ${round + 1} done\n`);
    }
    await testbed.teardown();
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result)}\n`);
}

await main(process.argv[2]!);
