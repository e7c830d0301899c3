// The VNet's routes come from the controller, proven on a real kernel (User-Mode Linux). On the host, the
// real controller gives the seed's three nodes (joining an in-test API server, no blocks in any spec)
// blocks from a pod pool outside the node subnet and writes their routes to an in-test ARM route
// table; then one node is deleted and, after the grace period, its route goes. In one boot the guest
// pins the annotated blocks (what the agent reads from the annotation), programs its VNet with the
// first route table and runs the suite, then switches to the second table: pods on the removed node
// are unreachable (the negative control) while the remaining nodes still reach each other.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { validateSpec } from "../../src/spec/load.ts";
import type { ClusterSpec, ClusterSpecInput } from "../../src/spec/schema.ts";
import type { RouteEntry } from "../../src/routes/routes.ts";
import { containsIp, parseCidr, parseIp } from "../../src/net/cidr.ts";
import { runController } from "../../src/controller/run.ts";
import { CHECK_IDS } from "../../src/verify/checks.ts";
import type { SuiteResult } from "../../src/testbed/job.ts";
import { TestCluster } from "../controller/cluster.ts";
import { addNode, blocksByNode, ROUTE_TABLE, silentLog, startArm, until } from "../controller/harness.ts";
import { BOOT_TIMEOUT_MS, runTestbedSpec, statusOf } from "./testbed.ts";

const POD_POOL = "10.241.0.0/16";
const REMOVED = "node2";

interface ControllerOutput {
  /** Node → its blocks, from the node annotations. */
  blocks: Map<string, string[]>;
  /** The route table while every node is registered, and after REMOVED was deleted. */
  before: RouteEntry[];
  after: RouteEntry[];
}

/** examples/seed.yaml as written, with the pod pool outside the node subnet. */
let input: ClusterSpecInput;
let seed: ClusterSpec;
let output: ControllerOutput;
let result: SuiteResult;

beforeAll(async () => {
  const file = resolve(import.meta.dirname, "../../examples/seed.yaml");
  input = { ...(parse(await readFile(file, "utf8")) as ClusterSpecInput), podPool: [POD_POOL] };
  seed = validateSpec(input);
  output = await runControllerOnHost();
  result = await runTestbedSpec(
    {
      ...input,
      nodes: seed.nodes.map((node) => ({ ...node, block: output.blocks.get(node.name)![0]! })),
    },
    {
      profiles: ["product"],
      controls: false,
      vnetRoutes: output.before,
      vnetRoutesAfter: { routes: output.after, removedNode: REMOVED },
    },
  );
}, BOOT_TIMEOUT_MS);

/** The real controller against the in-test API server and ARM endpoint, until both route tables are known. */
async function runControllerOnHost(): Promise<ControllerOutput> {
  const cluster = new TestCluster();
  await cluster.open();
  const { arm, options } = await startArm();
  try {
    const spec = validateSpec({
      ...input,
      nodes: [],
      controller: { routeTable: ROUTE_TABLE, releaseGraceSeconds: 1 },
    });
    const table = arm.tables.get(
      `${ROUTE_TABLE.subscriptionId}/${ROUTE_TABLE.resourceGroup}/${ROUTE_TABLE.name}`.toLowerCase(),
    )!;
    const routes = (): RouteEntry[] =>
      [...table].map(([name, route]) => {
        if (route.nextHopType !== "VirtualAppliance" || !route.nextHopIpAddress)
          throw new Error(`route ${name} is no VirtualAppliance route: ${JSON.stringify(route)}`);
        return {
          name,
          addressPrefix: route.addressPrefix,
          nextHopType: "VirtualAppliance",
          nextHopIpAddress: route.nextHopIpAddress,
        };
      });
    cluster.spawn((signal) =>
      runController(
        {
          spec,
          api: cluster.api,
          log: silentLog,
          identity: "controller-0",
          arm: options,
          timings: { leaseDurationMs: 1_500, renewDeadlineMs: 1_000, retryPeriodMs: 100 },
          tuning: { resyncMs: 200 },
        },
        signal,
      ),
    );
    // In reverse order, one at a time: the last node gets the lowest block, unlike in plan(), so the
    // guest's blocks can only have come from the annotations.
    for (const node of [...seed.nodes].reverse()) {
      addNode(cluster.server, node.name, node.ip);
      await until(
        `${node.name} has a block`,
        () => (blocksByNode(cluster.server).get(node.name) ?? []).length === 1,
      );
    }
    const blocks = blocksByNode(cluster.server);
    const routed = (name: string, ip: string) =>
      routes().some((route) => route.addressPrefix === blocks.get(name)![0] && route.nextHopIpAddress === ip);
    await until("one route per block", () => seed.nodes.every((node) => routed(node.name, node.ip)));
    const before = routes();

    cluster.server.remove("v1", "Node", REMOVED);
    const gone = blocks.get(REMOVED)![0];
    await until(`the route of ${REMOVED} is deleted`, () =>
      routes().every((route) => route.addressPrefix !== gone),
    );
    return { blocks, before, after: routes() };
  } finally {
    await cluster.close();
    await arm.stop();
  }
}

const hops = (routes: readonly RouteEntry[]) =>
  routes.map((route) => `${route.addressPrefix} via ${route.nextHopIpAddress}`).sort();

describe("the controller's output on the host", () => {
  it("gave each node one block of the pod pool, the lowest to the node that joined first", () => {
    const pool = parseCidr(POD_POOL);
    const blocks = seed.nodes.map((node) => output.blocks.get(node.name)!);
    for (const [block] of blocks) expect(containsIp(pool, parseCidr(block!).base)).toBe(true);
    expect(new Set(blocks.flat()).size).toBe(3);
    expect([...blocks.flat()].sort((a, b) => parseCidr(a).base - parseCidr(b).base)[0]).toBe(blocks[2]![0]);
  });

  it("routed every block to its node, and removed only the deleted node's route", () => {
    const expected = seed.nodes.map((node) => `${output.blocks.get(node.name)![0]} via ${node.ip}`);
    expect(hops(output.before)).toEqual(expected.sort());
    expect(output.after).toEqual(
      output.before.filter((route) => route.addressPrefix !== output.blocks.get(REMOVED)![0]),
    );
  });
});

describe("the guest's VNet with the controller's route table", () => {
  const product = () => result.profiles.find((run) => run.profile === "product")!.results;

  it.each(CHECK_IDS)("%s passes", (id) => {
    expect(statusOf(product(), id)).toBe("pass");
  });

  it("the client pod's address came from its node's annotated block", () => {
    const check = product().find((candidate) => candidate.id === "pod-to-pod-same-node")!;
    const seen = check.reason.match(/the server saw (\S+)$/)?.[1];
    const block = parseCidr(output.blocks.get(seed.nodes[0]!.name)![0]!);
    expect(seen && containsIp(block, parseIp(seen))).toBe(true);
  });
});

describe(`after ${REMOVED}'s route is gone`, () => {
  const paths = () =>
    result.afterSwitch.map((run) => [`${run.from}→${run.to}`, statusOf([run.result], run.result.id)]);

  it("pods on the removed node are unreachable from another node", () => {
    const toRemoved = paths().filter(([path]) => path!.endsWith(`→${REMOVED}`));
    expect(toRemoved.length).toBe(1);
    // Dropped in the VNet: no answer, not a refused connection or a check that could not run.
    for (const [, status] of toRemoved) expect(status).toMatch(/^fail: pod to pod: no answer within/);
  });

  it("the remaining nodes still reach each other's pods", () => {
    const between = paths().filter(([path]) => !path!.includes(REMOVED));
    expect(between.length).toBe(seed.nodes.length - 2);
    for (const [path, status] of between) expect(`${path}: ${status}`).toBe(`${path}: pass`);
  });
});
