// Benchmark: plan 5,000 nodes with /28 blocks from a /12 pod pool, then add one node incrementally
// (a BlockAllocator holding the existing claims, as the controller keeps it). Prints wall time,
// peak RSS and heap. Targets (issue 2): plan < 1 s and < 200 MB; one more node < 10 ms.
// Run: node --expose-gc bench/plan.ts [nodes]
import { performance } from "node:perf_hooks";
import { validateSpec } from "../src/spec/load.ts";
import { plan } from "../src/ipam/planner.ts";
import { checkedPool } from "../src/ipam/pool.ts";
import { BlockAllocator } from "../src/ipam/allocator.ts";
import { formatCidr, formatIp, parseIp } from "../src/net/cidr.ts";

const count = Number(process.argv[2] ?? 5000);
const firstNodeIp = parseIp("10.240.0.4");
const node = (index: number) => ({ name: `node-${index}`, ip: formatIp(firstNodeIp + index) });
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const ms = (value: number) => `${value.toFixed(value < 10 ? 3 : 1)} ms`;

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const heapBefore = process.memoryUsage().heapUsed;

const started = performance.now();
const spec = validateSpec({
  nodeSubnet: "10.240.0.0/16",
  podPool: ["10.32.0.0/12"],
  blockSize: 28,
  maxPodsPerNode: 16,
  nodes: Array.from({ length: count }, (_, index) => node(index)),
});
const validated = performance.now();
const result = plan(spec);
const planned = performance.now();
const heapAfter = process.memoryUsage().heapUsed;

// Incremental: the controller's allocator already holds every node's block; one node joins.
const setupStarted = performance.now();
const joining = node(count);
const allocator = new BlockAllocator(checkedPool(spec, [joining]));
for (const planned of result.nodes)
  for (const block of planned.blocks) allocator.claim(block.cidr, planned.name);
const setupDone = performance.now();
const block = allocator.allocate(joining.name);
const added = performance.now();
if (!block) throw new Error("no block for the joining node");

// Steady state: 100 more nodes join one after another; the median is what one join costs.
const joins = Array.from({ length: 100 }, (_, index) => {
  const t0 = performance.now();
  if (!allocator.allocate(node(count + 1 + index).name)) throw new Error("pool exhausted");
  return performance.now() - t0;
}).sort((a, b) => a - b);

// The same step through the pure planner: re-plan with every block held and the new node extra.
const held = new Map(result.nodes.map((planned) => [planned.name, planned.blocks.map((b) => b.cidr)]));
const replanStarted = performance.now();
const replanned = plan(spec, { held, extraNodes: [joining] });
const replannedAt = performance.now();
if (replanned.nodes.at(-1)?.blocks[0]?.cidr !== formatCidr(block))
  throw new Error("planner and allocator disagree");

const rssPeak = process.resourceUsage().maxRSS * 1024;
const lines = [
  `nodes                          ${count} (/28 blocks from 10.32.0.0/12, ${result.freeBlocks} blocks left)`,
  `validate spec                  ${ms(validated - started)}`,
  `plan                           ${ms(planned - validated)}`,
  `validate + plan                ${ms(planned - started)}   (target < 1000 ms)`,
  `heap growth (validate + plan)  ${mb(heapAfter - heapBefore)}${gc ? "" : "   (run with --expose-gc for a clean baseline)"}`,
  `peak RSS of the process        ${mb(rssPeak)}   (target < 200 MB)`,
  `${`allocator, ${count} claims`.padEnd(31)}${ms(setupDone - setupStarted)}   (once, when the controller starts)`,
  `add one node (allocate)        ${ms(added - setupDone)}   (target < 10 ms; first call, code still cold)`,
  `next 100 joins, median / max   ${ms(joins[50]!)} / ${ms(joins[99]!)}`,
  `re-plan, all held, +1 node     ${ms(replannedAt - replanStarted)}   (the pure planner's way to the same block)`,
];
process.stdout.write(`${lines.join("\n")}\n`);
