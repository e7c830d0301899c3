// A failed allocation pass is not the end: the controller runs it again with backoff, and resync runs
// it again too. The in-test API server refuses the ledger writes a few times (HTTP 500); every node
// still gets its block.
import { describe, expect, it } from "vitest";
import { BlockController } from "../../src/controller/controller.ts";
import { ControllerMetrics } from "../../src/controller/metrics.ts";
import { VxlanRouting } from "../../src/controller/vxlan.ts";
import type { Backoff } from "../../src/sys/coalesce.ts";
import { addNode, blocksByNode, nodeIp, silentLog, testSpec, whenServerSees } from "./harness.ts";
import { useTestCluster } from "./cluster.ts";

const cluster = useTestCluster();
const HOUR = 3_600_000;

function start(retryBackoff: Backoff, resyncMs: number): void {
  const controller = new BlockController({
    spec: testSpec(),
    api: cluster.api,
    metrics: new ControllerMetrics(),
    log: silentLog,
    record: () => undefined,
    routing: new VxlanRouting(),
    retryBackoff,
    resyncMs,
  });
  cluster.spawn((signal) => controller.run(signal));
}

const isLedgerWrite = (method: string, path: string) => method === "PATCH" && path.includes("/configmaps/");

async function everyNodeAllocated(count: number): Promise<void> {
  await whenServerSees(cluster.server, "every node has a block", () => {
    const blocks = blocksByNode(cluster.server);
    return blocks.size === count && [...blocks.values()].every((node) => node.length === 1);
  });
  const all = [...blocksByNode(cluster.server).values()].flat();
  expect(new Set(all).size).toBe(count);
}

function failedLedgerWrites(): number {
  return cluster.server.requests.filter((r) => isLedgerWrite(r.method, r.path) && r.status === 500).length;
}

describe("controller retries", () => {
  it("retries a failed allocation pass with backoff until every node has a block", async () => {
    for (let i = 0; i < 4; i++) cluster.server.failNext(isLedgerWrite, 500);
    start({ firstMs: 5, maxMs: 40 }, HOUR);
    for (let i = 0; i < 3; i++) addNode(cluster.server, `node-${i}`, nodeIp(i));
    await everyNodeAllocated(3);
    expect(failedLedgerWrites()).toBe(4);
  });

  it("resync runs a failed allocation pass again even when the backoff is long", async () => {
    cluster.server.failNext(isLedgerWrite, 500);
    start({ firstMs: HOUR, maxMs: HOUR }, 20);
    for (let i = 0; i < 3; i++) addNode(cluster.server, `node-${i}`, nodeIp(i));
    await everyNodeAllocated(3);
    expect(failedLedgerWrites()).toBe(1);
  });
});
