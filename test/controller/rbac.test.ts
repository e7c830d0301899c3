// The controller under the RBAC the manifests grant it, against the REAL kube-apiserver
// (test/realkube): the rendered ClusterRole and Role are applied as an admin would (under names of
// this test's own, as the API server is shared) and bound to a ServiceAccount; the controller
// authenticates with a token the TokenRequest API minted for it, and the API server's own RBAC authorizer judges every call: a missing permission
// is a real 403.
import { afterEach, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { runController } from "../../src/controller/run.ts";
import { connect, KubeApiError, type KubeApi, type KubeObject } from "../../src/kube/client.ts";
import { renderManifests } from "../../src/manifests/render.ts";
import { CONTROLLER_NAME, LEDGER_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../../src/ipam/annotation.ts";
import { ROUTE_TABLE, nodeIp, silentLog, startArm, testSpec } from "./harness.ts";
import {
  adminApi,
  bindRenderedRbac,
  serviceAccountToken,
  tokenKubeConfig,
  type RbacRule,
} from "../realkube/cluster.ts";

const spec = testSpec({ maxBlocksPerNode: 2, controller: { routeTable: ROUTE_TABLE } });
const manifests = renderManifests(spec) as KubeObject[];
const admin = adminApi();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Records each call the controller makes and which of them the API server refused with 403. */
function recorded(api: KubeApi): { api: KubeApi; calls: string[]; forbidden: string[] } {
  const calls: string[] = [];
  const forbidden: string[] = [];
  const wrap =
    <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const what = `${name} ${JSON.stringify(args[0])}${typeof args[1] === "string" ? ` ${args[1]}` : ""}`;
      calls.push(what);
      try {
        return await call(...args);
      } catch (error) {
        if (error instanceof KubeApiError && error.code === 403) forbidden.push(what);
        throw error;
      }
    };
  return {
    calls,
    forbidden,
    api: {
      ...api,
      get: wrap("get", api.get),
      list: wrap("list", api.list),
      apply: wrap("apply", api.apply),
      create: wrap("create", api.create),
      mergePatch: wrap("mergePatch", api.mergePatch),
      delete: wrap("delete", api.delete),
    },
  };
}

async function blocksOf(names: string[]): Promise<string[][]> {
  const nodes = (await admin.list("v1", "Node")).items;
  return names.map((name) =>
    parseBlocksAnnotation(
      nodes.find((node) => node.metadata.name === name)?.metadata.annotations?.[BLOCKS_ANNOTATION],
    ),
  );
}

/** Nodes as the kubelet registers them, named for this test alone (the API server is shared). */
async function addNodes(count: number): Promise<string[]> {
  const prefix = `rbac-${randomBytes(3).toString("hex")}`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const [i, name] of names.entries()) {
    await admin.create({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name },
      spec: {
        providerID: `azure:///subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachines/${name}`,
      },
      status: { addresses: [{ type: "InternalIP", address: nodeIp(200 + i) }] },
    });
  }
  cleanups.push(async () => {
    for (const name of names) await admin.delete({ apiVersion: "v1", kind: "Node", name });
  });
  return names;
}

async function controllerAs(api: KubeApi) {
  const { arm, options } = await startArm();
  const stop = new AbortController();
  const running = runController(
    {
      spec,
      api,
      log: silentLog,
      identity: `rbac-test-${randomBytes(3).toString("hex")}`,
      arm: options,
      timings: { leaseDurationMs: 1_500, renewDeadlineMs: 1_000, retryPeriodMs: 100 },
      tuning: { releaseGraceMs: 60_000, resyncMs: 200, podResyncMs: 100 },
    },
    stop.signal,
  );
  cleanups.push(async () => {
    stop.abort();
    await running.catch(() => undefined);
    arm.stop();
  });
}

/** A client with the controller's rendered permissions, the Role's rules edited by `rules`. */
async function controllerClient(rules?: (rules: RbacRule[]) => RbacRule[]) {
  const id = randomBytes(3).toString("hex");
  const account = await bindRenderedRbac(admin, manifests, CONTROLLER_NAME, id, rules);
  return recorded(connect(tokenKubeConfig(await serviceAccountToken(NAMESPACE, account))));
}

describe("controller RBAC on the real API server", () => {
  it("allocates blocks, counts pods, records events and leads with exactly the rendered permissions", async () => {
    const client = await controllerClient();
    const names = await addNodes(3);
    await controllerAs(client.api);
    await expect.poll(async () => (await blocksOf(names)).every((blocks) => blocks.length === 1)).toBe(true);
    await expect.poll(() => client.calls.some((call) => call.startsWith('list "v1" Pod'))).toBe(true);
    await expect
      .poll(async () => {
        const events = (await admin.list("v1", "Event", { namespace: "default" })).items;
        return names.every((name) =>
          events.some((event) => (event.involvedObject as { name?: string } | undefined)?.name === name),
        );
      })
      .toBe(true);
    expect(client.forbidden).toEqual([]);
  });

  it("negative control: without access to its block ledger it gets a real 403 and allocates nothing", async () => {
    const client = await controllerClient((rules) =>
      rules.filter((rule) => !rule.resourceNames?.includes(LEDGER_NAME)),
    );
    const names = await addNodes(2);
    await controllerAs(client.api);
    await expect.poll(() => client.forbidden.length).toBeGreaterThan(0);
    expect(client.forbidden.some((call) => call.includes(LEDGER_NAME))).toBe(true);
    expect((await blocksOf(names)).flat()).toEqual([]);
  });
});
