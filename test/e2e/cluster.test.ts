// The emulated AKS on a real kernel (the runner auto picks; User-Mode Linux here), three clusters in one
// boot, every check with its negative control:
//  1. the seed's three nodes with the pod pool outside the node subnet, where the blocks and the VNet's
//     routes come from the real controller: on the host it gives the nodes (joining an in-test API
//     server, no blocks in any spec) blocks and writes their routes to an in-test ARM route table, then
//     one node is deleted and, after the grace period, its route goes. The guest pins the annotated
//     blocks (what the agent reads from the annotation), programs its VNet with the first route table,
//     runs every check and the negative controls, then switches to the second table: pods on the
//     removed node are unreachable while the remaining nodes still reach each other;
//  2. the seed's three nodes as written (the pool is the node subnet): every check passes with
//     aks-ipvlan, each negative control makes its checks fail; and the seed's configuration as written
//     (its README's conflist, no agent): what it gets right and each gap, failing;
//  3. five nodes in another node subnet with /27 blocks: every check passes.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { loadSpec, validateSpec } from "../../src/spec/load.ts";
import type { ClusterSpec, ClusterSpecInput } from "../../src/spec/schema.ts";
import type { RouteEntry } from "../../src/routes/routes.ts";
import { plan } from "../../src/ipam/planner.ts";
import { containsIp, parseCidr, parseIp } from "../../src/net/cidr.ts";
import { runController } from "../../src/controller/run.ts";
import { CHECK_IDS, type Evidence } from "../../src/verify/checks.ts";
import { CONTROLS } from "../../src/testbed/guest/controls.ts";
import { SEED_GAPS } from "../../src/testbed/guest/node-setup.ts";
import type { ClusterResult, SuiteResult } from "../../src/testbed/job.ts";
import { chooseRunner } from "../../src/testbed/runners/auto.ts";
import { TestCluster } from "../controller/cluster.ts";
import { addNode, blocksByNode, ROUTE_TABLE, silentLog, startArm, until } from "../controller/harness.ts";
import { BOOT_TIMEOUT_MS, runTestbedSpec, statusOf } from "./testbed.ts";

const POD_POOL = "10.241.0.0/16";
const REMOVED = "node2";
/** A bound on the controller's work on the host against a hang, not a target. */
const CONTROLLER_DEADLINE_MS = 300_000;

interface ControllerOutput {
  /** Node → its blocks, from the node annotations. */
  blocks: Map<string, string[]>;
  /** The route table while every node is registered, and after REMOVED was deleted. */
  before: RouteEntry[];
  after: RouteEntry[];
}

const example = async (name: string) =>
  parse(await readFile(resolve(import.meta.dirname, "../../examples", name), "utf8")) as ClusterSpecInput;

/** examples/seed.yaml as written, with the pod pool outside the node subnet. */
let input: ClusterSpecInput;
let seed: ClusterSpec;
let output: ControllerOutput;
let result: SuiteResult;
let bootRunner: string;

beforeAll(async () => {
  const seedInput = await example("seed.yaml");
  input = { ...seedInput, podPool: [POD_POOL] };
  seed = validateSpec(input);
  output = await runControllerOnHost();
  bootRunner = (await chooseRunner("auto")).runner.name;
  result = await runTestbedSpec(
    { ...input, nodes: seed.nodes.map((node) => ({ ...node, block: output.blocks.get(node.name)![0]! })) },
    {
      profiles: ["product"],
      controls: false,
      vnetRoutes: output.before,
      vnetRoutesAfter: { routes: output.after, removedNode: REMOVED },
      more: [
        // The controls break the seed's own layout (the original conflist's routes need the pool in
        // the node subnet), beside the seed's configuration as written.
        { name: "seed", spec: { ...seedInput }, profiles: ["product", "seed"], controls: true },
        {
          name: "five-nodes",
          spec: { ...(await example("five-nodes.yaml")) },
          profiles: ["product"],
          controls: false,
        },
      ],
    },
  );
  console.log(
    JSON.stringify({
      runner: bootRunner,
      clusters: [
        ["controller's blocks", result] as const,
        ...(result.more ?? []).map((run) => [run.name, run.result] as const),
      ].map(([name, run]) => ({
        name,
        profiles: run.profiles.map((p) => ({ profile: p.profile, setupMs: p.setupMs, suiteMs: p.suiteMs })),
        // Probes that stayed silent at first and were tried again, longer (slow, not wrong).
        silentAttempts: run.profiles
          .flatMap((p) => p.results)
          .filter((check) => check.status === "pass")
          .reduce((sum, check) => sum + check.evidence.filter(silent).length, 0),
      })),
    }),
  );
}, BOOT_TIMEOUT_MS);

const silent = (evidence: Evidence) => evidence.code === 143 || evidence.code === 128;

function more(name: string): ClusterResult {
  const run = result.more?.find((candidate) => candidate.name === name);
  if (!run) throw new Error(`no results for the cluster ${name}`);
  return run.result;
}

function profile(cluster: ClusterResult, name: string) {
  const run = cluster.profiles.find((candidate) => candidate.profile === name);
  if (!run) throw new Error(`no results for profile ${name}`);
  return run.results;
}

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
        CONTROLLER_DEADLINE_MS,
      );
    }
    const blocks = blocksByNode(cluster.server);
    const routed = (name: string, ip: string) =>
      routes().some((route) => route.addressPrefix === blocks.get(name)![0] && route.nextHopIpAddress === ip);
    await until(
      "one route per block",
      () => seed.nodes.every((node) => routed(node.name, node.ip)),
      CONTROLLER_DEADLINE_MS,
    );
    const before = routes();

    cluster.server.remove("v1", "Node", REMOVED);
    const gone = blocks.get(REMOVED)![0];
    await until(
      `the route of ${REMOVED} is deleted`,
      () => routes().every((route) => route.addressPrefix !== gone),
      CONTROLLER_DEADLINE_MS,
    );
    return { blocks, before, after: routes() };
  } finally {
    await cluster.close();
    await arm.stop();
  }
}

const hops = (routes: readonly RouteEntry[]) =>
  routes.map((route) => `${route.addressPrefix} via ${route.nextHopIpAddress}`).sort();

describe("the boot", () => {
  it("ran on the runner auto chooses, and every cluster finished", () => {
    expect(result.error).toBeUndefined();
    expect((result.more ?? []).map((run) => [run.name, run.result.error])).toEqual([
      ["seed", undefined],
      ["five-nodes", undefined],
    ]);
    expect(bootRunner).toMatch(/^(native|uml|qemu)$/);
  });
});

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

describe("the seed's nodes with the controller's blocks and routes", () => {
  const product = () => profile(result, "product");

  it.each(CHECK_IDS)("%s passes", (id) => {
    expect(statusOf(product(), id)).toBe("pass");
  });

  it("the client pod's address came from its node's annotated block", () => {
    const check = product().find((candidate) => candidate.id === "pod-to-pod-same-node")!;
    const seen = check.reason.match(/the server saw (\S+)$/)?.[1];
    const block = parseCidr(output.blocks.get(seed.nodes[0]!.name)![0]!);
    expect(seen && containsIp(block, parseIp(seen))).toBe(true);
  });

  it("the metadata checks' node-side controls reach the listeners", () => {
    for (const id of ["wireserver-closed", "imds-closed"] as const) {
      const check = product().find((candidate) => candidate.id === id)!;
      const fromNode = check.evidence.filter((evidence) => evidence.where.startsWith("node "));
      const fromPod = check.evidence.filter((evidence) => evidence.where.startsWith("pod "));
      // Any HTTP answer, also an error status, means the listener was reached.
      const reached = (evidence: Evidence) =>
        evidence.code === 0 || /server returned error/.test(evidence.output);
      expect(fromNode.length).toBeGreaterThan(0);
      expect(fromNode.filter(reached).length).toBeGreaterThan(0);
      expect(fromPod.filter(reached)).toEqual([]);
    }
  });
});

describe("the seed's nodes as written, with aks-ipvlan, and the negative controls", () => {
  it.each(CHECK_IDS)("%s passes", (id) => {
    expect(statusOf(profile(more("seed"), "product"), id)).toBe("pass");
  });

  it.each(CONTROLS.map((control) => [control.id, control.mustFail] as const))(
    "%s makes %j fail",
    (id, mustFail) => {
      const control = more("seed").controls.find((candidate) => candidate.id === id);
      expect(control, `control ${id} did not run`).toBeDefined();
      for (const check of mustFail) expect(statusOf(control!.results, check)).toMatch(/^fail/);
    },
  );

  it("ran every control, in order", () => {
    expect(more("seed").controls.map((control) => control.id)).toEqual(CONTROLS.map((control) => control.id));
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

describe("the seed's configuration as written", () => {
  const seedResults = () => profile(more("seed"), "seed");

  it("gets egress and same-node pod-to-pod right", () => {
    expect(statusOf(seedResults(), "egress")).toBe("pass");
    expect(statusOf(seedResults(), "pod-to-pod-same-node")).toBe("pass");
  });

  it.each([
    ["pod-to-pod-cross-node", "no VNet routes"],
    ["pod-mtu-cross-node", "no VNet routes"],
    ["node-to-pod", "no host device"],
    ["clusterip-same-node", "no host device"],
    ["hostport", "no portmap"],
    ["wireserver-closed", "no metadata protection"],
    ["imds-closed", "no metadata protection"],
  ] as const)("fails %s (%s)", (id, _cause) => {
    expect(statusOf(seedResults(), id)).toMatch(/^fail/);
  });

  it("is probed without patience exactly where it is expected to fail (node-setup.ts SEED_GAPS)", () => {
    const failing = seedResults()
      .filter((check) => check.status === "fail")
      .map((check) => check.id);
    expect([...SEED_GAPS].sort()).toEqual(failing.sort());
  });
});

describe("five nodes in another node subnet (examples/five-nodes.yaml)", () => {
  const five = () => profile(more("five-nodes"), "product");

  it("built five nodes", () => {
    expect(more("five-nodes").profiles[0]?.nodes).toBe(5);
  });

  it.each(CHECK_IDS)("%s passes", (id) => {
    expect(statusOf(five(), id)).toBe("pass");
  });

  it("the first node's pods got addresses from its planned /27 block", async () => {
    const spec = await loadSpec(resolve(import.meta.dirname, "../../examples/five-nodes.yaml"));
    const block = parseCidr(plan(spec).nodes[0]!.blocks[0]!.cidr);
    expect(block.prefix).toBe(27);
    const check = five().find((candidate) => candidate.id === "pod-to-pod-same-node")!;
    const seen = check.reason.match(/the server saw (\S+)$/)?.[1];
    expect(seen && containsIp(block, parseIp(seen))).toBe(true);
  });
});
