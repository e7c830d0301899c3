// NetworkPolicy's cost on the datapath (not part of npm test), in one testbed boot (the runner of
// AKS_IPVLAN_RUNNER, default auto): iperf3 pod to pod, same node and cross node, with no policy vs. with
// policies isolating both pods and allowing the traffic (interleaved rounds; median and min–max), and
// CNI ADD p50 with the node's fail-closed enforcer idle vs. syncing at every new sandbox. Only ratios
// mean anything: the guest shares a slow CPU. Targets (issue 12): throughput ≥ 0.95×, ADD ≤ 1.1×.
import { resolve } from "node:path";
import { loadSpec } from "../src/spec/load.ts";
import { runInGuest } from "../src/testbed/run.ts";
import { NetpolBenchResultSchema } from "./guest/netpol-datapath-files.ts";

const spec = await loadSpec(resolve(import.meta.dirname, "../examples/seed.yaml"));
const { result } = await runInGuest({
  entry: resolve(import.meta.dirname, "guest/netpol-datapath.ts"),
  spec,
  job: { iperfSeconds: 5, iperfRounds: 5, cniPods: 10 },
  schema: NetpolBenchResultSchema,
  timeoutMs: 20 * 60_000,
  onLine: (line) => {
    if (line.startsWith("bench: ")) process.stderr.write(`${line}\n`);
  },
});
if (result.error) throw new Error(`the guest failed: ${result.error}`);

const median = (values: readonly number[]) =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const spread = (values: readonly number[]) =>
  `median ${median(values).toFixed(2)} (min ${Math.min(...values).toFixed(2)}, max ${Math.max(...values).toFixed(2)})`;
for (const path of ["sameNode", "crossNode"] as const) {
  const none = result.iperf.none[path];
  const allowed = result.iperf.allowed[path];
  console.log(
    `iperf3 pod→pod ${path.padEnd(9)} no policy ${spread(none)} Gbit/s, allowed by policy ${spread(allowed)} Gbit/s, ratio ${(median(allowed) / median(none)).toFixed(2)}`,
  );
}
const { idle, enforcing } = result.cniAddMs;
console.log(
  `CNI ADD p50: enforcer idle ${median(idle).toFixed(0)} ms, enforcer syncing ${median(enforcing).toFixed(0)} ms, ratio ${(median(enforcing) / median(idle)).toFixed(2)} (n=${idle.length} each)`,
);
