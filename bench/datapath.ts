// Datapath benchmark (not part of npm test): in one User-Mode Linux boot, CNI ADD/DEL p50/p95 for 50
// pods with aks-ipvlan's conflist vs the bridge plugin on the same node, and iperf3 throughput pod to pod
// (same node, cross node) vs node to node. Only ratios mean anything: UML is one slow CPU.
import { resolve } from "node:path";
import { loadSpec } from "../src/spec/load.ts";
import { runInGuest } from "../src/testbed/run.ts";
import type { BenchJob, BenchResult, Timings } from "./guest/datapath.ts";

const spec = await loadSpec(resolve(import.meta.dirname, "../examples/seed.yaml"));
const job: Omit<BenchJob, "specFile"> = { pods: 50, iperfSeconds: 5 };
const { result, bootMs } = await runInGuest<Omit<BenchJob, "specFile">, BenchResult>({
  entry: resolve(import.meta.dirname, "guest/datapath.ts"),
  spec,
  job,
  timeoutMs: 20 * 60_000,
  onLine: (line) => {
    if (line.startsWith("bench: ") || line.startsWith("testbed: ")) process.stderr.write(`${line}\n`);
  },
});
if (result.error) throw new Error(`the guest failed: ${result.error}`);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const row = (name: string, timings: Timings) =>
  `${name.padEnd(8)} ADD p50 ${percentile(timings.addMs, 50).toFixed(0)} ms  p95 ${percentile(timings.addMs, 95).toFixed(0)} ms   DEL p50 ${percentile(timings.delMs, 50).toFixed(0)} ms  p95 ${percentile(timings.delMs, 95).toFixed(0)} ms   (n=${timings.addMs.length})`;
const ratio = (ours: number, theirs: number) => (ours / theirs).toFixed(2);
const { ipvlan, bridge } = result.cni;
const { podSameNode, podCrossNode, nodeToNode } = result.iperf;
console.log(
  [
    `CNI, ${job.pods} pods on one node (conflist plugins run through the runtime with ip netns exec):`,
    row("ipvlan", ipvlan),
    row("bridge", bridge),
    `ADD p50 ratio ipvlan/bridge ${ratio(percentile(ipvlan.addMs, 50), percentile(bridge.addMs, 50))} (goal <= 1.0)`,
    `DEL p50 ratio ipvlan/bridge ${ratio(percentile(ipvlan.delMs, 50), percentile(bridge.delMs, 50))}`,
    `iperf3 ${job.iperfSeconds} s, Gbit/s: pod→pod same node ${podSameNode.toFixed(2)}, pod→pod cross node ${podCrossNode.toFixed(2)}, node→node ${nodeToNode.toFixed(2)}`,
    `cross-node pod/node ratio ${ratio(podCrossNode, nodeToNode)} (goal >= 0.97); same-node pod/node ${ratio(podSameNode, nodeToNode)}`,
    `boot and run: ${(bootMs / 1000).toFixed(1)} s`,
  ].join("\n"),
);
