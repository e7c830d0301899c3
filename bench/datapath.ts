// Datapath benchmark (not part of npm test): for each routing mode (vnet: the seed, cross-node through
// the emulated route table; vxlan: examples/vxlan.yaml, through the overlay), one testbed boot (the
// runner of AKS_IPVLAN_RUNNER, default auto) with CNI ADD/DEL p50/p95 for 50 pods with aks-ipvlan's
// conflist vs the bridge plugin on the same node, and iperf3 throughput pod to pod (same node, cross
// node) vs node to node in interleaved rounds, each path's median with its min–max. Only ratios mean
// anything: the guest shares a slow CPU, so the modes are compared by their ratios to node to node,
// each measured in its own boot's rounds.
import { resolve } from "node:path";
import { loadSpec } from "../src/spec/load.ts";
import { runInGuest } from "../src/testbed/run.ts";
import { BenchResultSchema, IPERF_PATHS, type IperfPath, type Timings } from "./guest/datapath-files.ts";

const job = { pods: 50, iperfSeconds: 5, iperfRounds: 5 };
const MODES = { vnet: "../examples/seed.yaml", vxlan: "../examples/vxlan.yaml" } as const;

async function measure(specPath: string) {
  const spec = await loadSpec(resolve(import.meta.dirname, specPath));
  const run = await runInGuest({
    entry: resolve(import.meta.dirname, "guest/datapath.ts"),
    spec,
    job,
    schema: BenchResultSchema,
    timeoutMs: 20 * 60_000,
    onLine: (line) => {
      if (line.startsWith("bench: ") || line.startsWith("testbed: ")) process.stderr.write(`${line}\n`);
    },
  });
  if (run.result.error) throw new Error(`the guest failed: ${run.result.error}`);
  return run;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const row = (name: string, timings: Timings) =>
  `${name.padEnd(8)} ADD p50 ${percentile(timings.addMs, 50).toFixed(0)} ms  p95 ${percentile(timings.addMs, 95).toFixed(0)} ms   DEL p50 ${percentile(timings.delMs, 50).toFixed(0)} ms  p95 ${percentile(timings.delMs, 95).toFixed(0)} ms   (n=${timings.addMs.length})`;
const ratio = (ours: number, theirs: number) => (ours / theirs).toFixed(2);
const spread = (values: readonly number[]) =>
  `median ${percentile(values, 50).toFixed(2)} (min ${Math.min(...values).toFixed(2)}, max ${Math.max(...values).toFixed(2)})`;
const labels: Record<IperfPath, string> = {
  podSameNode: "pod→pod same node ",
  podCrossNode: "pod→pod cross node",
  nodeToNode: "node→node         ",
};

const crossNodeRatio: Partial<Record<keyof typeof MODES, number>> = {};
for (const [mode, specPath] of Object.entries(MODES) as [keyof typeof MODES, string][]) {
  const run = await measure(specPath);
  const { result } = run;
  const { ipvlan, bridge } = result.cni;
  const median = (path: IperfPath) => percentile(result.iperf[path], 50);
  // The ratio within each round: both paths of one round saw the same load.
  const roundRatios = (path: IperfPath) =>
    result.iperf[path].map((gbps, round) => gbps / result.iperf.nodeToNode[round]!);
  crossNodeRatio[mode] = percentile(roundRatios("podCrossNode"), 50);
  console.log(
    [
      `== routing.mode ${mode} (${specPath.replace("../", "")}): runner ${run.runner}, kernel ${run.kernel}`,
      `CNI, ${job.pods} pods on one node (conflist plugins run through the runtime with ip netns exec):`,
      row("ipvlan", ipvlan),
      row("bridge", bridge),
      `ADD p50 ratio ipvlan/bridge ${ratio(percentile(ipvlan.addMs, 50), percentile(bridge.addMs, 50))} (goal <= 1.0)`,
      `DEL p50 ratio ipvlan/bridge ${ratio(percentile(ipvlan.delMs, 50), percentile(bridge.delMs, 50))}`,
      `iperf3, ${job.iperfRounds} interleaved rounds of ${job.iperfSeconds} s per path, Gbit/s:`,
      ...IPERF_PATHS.map((path) => `  ${labels[path]} ${spread(result.iperf[path])}`),
      `cross-node pod/node ratio per round: ${spread(roundRatios("podCrossNode"))} (goal >= 0.97 in vnet); of the medians ${ratio(median("podCrossNode"), median("nodeToNode"))}`,
      `same-node pod/node ratio per round: ${spread(roundRatios("podSameNode"))}`,
      `boot ${(run.bootMs / 1000).toFixed(1)} s, boot and run ${(run.totalMs / 1000).toFixed(1)} s`,
    ].join("\n"),
  );
}
console.log(
  `cross-node pod/node, median of the per-round ratios: vnet ${crossNodeRatio.vnet?.toFixed(2)}, vxlan ${crossNodeRatio.vxlan?.toFixed(2)}; vxlan/vnet ${ratio(crossNodeRatio.vxlan!, crossNodeRatio.vnet!)}`,
);
