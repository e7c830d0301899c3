// Running the suite: create the pods and services the checks share (a client and an HTTP server on the
// first node, an HTTP server on the second, a ClusterIP+NodePort service for each server), run the
// checks, then delete what was created so the next run starts from the same cluster.
import { CHECKS, runCheck, type CheckId, type CheckResult, type Fixture } from "./checks.ts";
import type { ClusterDriver, PodRef, ServiceRef } from "./driver.ts";
import { mapBounded } from "../sys/bounded.ts";

const HOST_PORT = 8080;

export interface SuiteOptions {
  /** Suffix for the names of the suite's pods and services, unique per run in one cluster. */
  runId: string;
  /** Only these checks (default: all). */
  only?: readonly CheckId[];
  /** Checks expected to fail (a negative control): their silence is final at once (checks.ts). */
  expectFail?: readonly CheckId[];
  /** The nodes to use as "this node" and "another node" (default: the first two). */
  nodes?: [string, string?];
  /**
   * How many checks run at once (default 1). Checks share the fixture read-only, so any number is safe;
   * more hides a real cluster's exec latency, while the testbed's one slow CPU gains nothing from it.
   */
  concurrency?: number;
  /** The MTU the cluster spec gives pods, when known: the MTU check compares the pods' with it. */
  podMtu?: number;
}

export async function runSuite(driver: ClusterDriver, options: SuiteOptions): Promise<CheckResult[]> {
  const created: { pods: PodRef[]; services: ServiceRef[] } = { pods: [], services: [] };
  try {
    const fixture = await setUp(driver, options, created);
    const selected = CHECKS.filter((check) => !options.only || options.only.includes(check.id));
    return await mapBounded(selected, options.concurrency ?? 1, (check) =>
      runCheck(check, fixture, options.expectFail?.includes(check.id) ?? false),
    );
  } finally {
    for (const service of created.services) await driver.deleteService(service);
    for (const pod of created.pods) await driver.deletePod(pod);
  }
}

async function setUp(
  driver: ClusterDriver,
  options: SuiteOptions,
  created: { pods: PodRef[]; services: ServiceRef[] },
): Promise<Fixture> {
  const nodes = await driver.nodes();
  const pick = (name: string | undefined, fallback: number) =>
    name === undefined ? nodes[fallback] : nodes.find((node) => node.name === name);
  const a = pick(options.nodes?.[0], 0);
  const b = pick(options.nodes?.[1], 1);
  if (!a) throw new Error("the cluster has no nodes");
  const env = await driver.environment();
  const pod = async (name: string, node: string, role: "client" | "http", hostPort?: number) => {
    const ref = await driver.createPod({
      name: `${name}-${options.runId}`,
      node,
      role,
      ...(hostPort === undefined ? {} : { hostPort }),
    });
    created.pods.push(ref);
    return ref;
  };
  const service = async (backend: PodRef) => {
    const ref = await driver.createService({
      name: `${backend.name}-svc`,
      backend,
      type: "NodePort",
      protocol: "TCP",
      port: 80,
      targetPort: env.httpPort,
    });
    created.services.push(ref);
    return ref;
  };
  const clientA = await pod("client-a", a.name, "client");
  const serverA = await pod("server-a", a.name, "http", HOST_PORT);
  const serverB = b ? await pod("server-b", b.name, "http") : undefined;
  return {
    driver,
    env,
    a,
    ...(b ? { b } : {}),
    clientA,
    serverA,
    serviceA: await service(serverA),
    ...(serverB ? { serverB, serviceB: await service(serverB) } : {}),
    hostPort: HOST_PORT,
    ...(options.podMtu === undefined ? {} : { podMtu: options.podMtu }),
  };
}
