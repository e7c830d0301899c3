// Two block controllers active at once (as during a leader handover where the old leader's writes are
// still in flight) over 200 joining nodes: no block may end up on two nodes.
import { beforeEach, describe, expect, it } from "vitest";
import type { ApiServer } from "../apiserver/server.ts";
import { connect } from "../../src/kube/client.ts";
import { BlockController } from "../../src/controller/controller.ts";
import { LEDGER_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import { ControllerMetrics } from "../../src/controller/metrics.ts";
import { VxlanRouting } from "../../src/controller/vxlan.ts";
import { parseLedger } from "../../src/controller/ledger.ts";
import { addNode, blocksByNode, nodeIp, silentLog, testSpec, until } from "./harness.ts";
import { useTestCluster } from "./cluster.ts";

const cluster = useTestCluster();
let server: ApiServer;
beforeEach(() => {
  server = cluster.server;
});

function startController(): void {
  const controller = new BlockController({
    spec: testSpec(),
    api: connect(server.kubeConfig()),
    metrics: new ControllerMetrics(),
    log: silentLog,
    record: () => undefined,
    routing: new VxlanRouting(),
  });
  cluster.spawn((signal) => controller.run(signal));
}

describe("two controllers racing", () => {
  it("never give one block to two nodes, over 200 joining nodes", async () => {
    startController();
    startController();
    for (let i = 0; i < 200; i++) {
      addNode(server, `node-${i}`, nodeIp(i));
      if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    await until(
      "every node has a block",
      () => [...blocksByNode(server).values()].every((b) => b.length > 0),
      60_000,
    );

    const blocks = [...blocksByNode(server).values()].flat();
    expect(blocks).toHaveLength(200);
    expect(new Set(blocks).size).toBe(200);
    const ledger = parseLedger(
      server.get("v1", "ConfigMap", LEDGER_NAME, NAMESPACE)?.data as Record<string, string>,
    );
    for (const [name, [block]] of blocksByNode(server)) expect(ledger.get(block!)).toBe(name);

    const nodePatches = server.writes((r) => r.method === "PATCH" && r.path.startsWith("/api/v1/nodes/"));
    const ledgerWrites = server.writes((r) => r.path.includes(`/configmaps`));
    const refused = (records: typeof nodePatches) => records.filter((r) => r.status === 409).length;
    console.log(
      `race over 200 nodes: ${nodePatches.length} node patches (${(nodePatches.length / 200).toFixed(2)} per node, ` +
        `${refused(nodePatches)} refused with 409), ${ledgerWrites.length} ledger writes (${refused(ledgerWrites)} refused)`,
    );
  });
});
