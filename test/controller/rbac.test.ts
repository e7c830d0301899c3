// The controller under the RBAC the manifests grant it: the in-test API server enforces the rendered
// Roles and bindings for the controller's service account, so a missing permission shows up as a 403.
import { describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../apiserver/server.ts";
import type { JsonObject } from "../apiserver/patch.ts";
import { runController } from "../../src/controller/run.ts";
import { connect } from "../../src/kube/client.ts";
import { renderManifests } from "../../src/manifests/render.ts";
import { CONTROLLER_NAME, LEDGER_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import {
  addNode,
  blocksByNode,
  nodeIp,
  ROUTE_TABLE,
  silentLog,
  startArm,
  testSpec,
  until,
} from "./harness.ts";

const RBAC_KINDS = [
  "Namespace",
  "ServiceAccount",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
];

async function controllerUnderRbac(withoutLedgerAccess: boolean) {
  const spec = testSpec({ maxBlocksPerNode: 2, controller: { routeTable: ROUTE_TABLE } });
  const server: ApiServer = await startApiServer({ bookmarkIntervalMs: 100 });
  for (const manifest of renderManifests(spec)) {
    if (!RBAC_KINDS.includes(manifest.kind)) continue;
    const object = structuredClone(manifest) as JsonObject;
    if (withoutLedgerAccess && manifest.kind === "Role") {
      object.rules = (object.rules as { resourceNames?: string[] }[]).filter(
        (rule) => !rule.resourceNames?.includes(LEDGER_NAME),
      );
    }
    server.put(object);
  }
  const { arm, options } = await startArm();
  const api = connect(server.kubeConfig({ serviceAccount: { namespace: NAMESPACE, name: CONTROLLER_NAME } }));
  const stop = new AbortController();
  const running = runController(
    {
      spec,
      api,
      log: silentLog,
      identity: "rbac-test",
      arm: options,
      timings: { leaseDurationMs: 1_500, renewDeadlineMs: 1_000, retryPeriodMs: 100 },
      tuning: { releaseGraceMs: 60_000, resyncMs: 200, podResyncMs: 100 },
    },
    stop.signal,
  );
  for (let i = 0; i < 3; i++) addNode(server, `node-${i}`, nodeIp(i));
  const forbidden = () => server.requests.filter((r) => r.status === 403).map((r) => `${r.method} ${r.path}`);
  return {
    server,
    forbidden,
    async close() {
      stop.abort();
      await running.catch(() => undefined);
      arm.stop();
      await server.close();
    },
  };
}

describe("controller RBAC", () => {
  it("allocates blocks, counts pods, records events and leads with exactly the rendered permissions", async () => {
    const run = await controllerUnderRbac(false);
    try {
      await until("every node has a block", () =>
        [...blocksByNode(run.server).values()].every((b) => b.length === 1),
      );
      await until("pods were counted", () => run.server.requests.some((r) => r.path === "/api/v1/pods"));
      await until("events recorded", () => run.server.list("v1", "Event", "default").length >= 3);
      expect(run.forbidden()).toEqual([]);
    } finally {
      await run.close();
    }
  });

  it("negative control: without access to its block ledger it is refused and allocates nothing", async () => {
    const run = await controllerUnderRbac(true);
    try {
      await until("a request was refused", () => run.forbidden().length > 0);
      expect(
        run.forbidden().some((request) => request.includes(LEDGER_NAME) || request.includes("configmaps")),
      ).toBe(true);
      expect([...blocksByNode(run.server).values()].flat()).toEqual([]);
    } finally {
      await run.close();
    }
  });
});
