// Shared setup for the controller tests: the in-test API server and ARM endpoint, nodes as the
// kubelet registers them, and a bounded wait on a condition.
import { createServer } from "node:net";
import { pino } from "pino";
import type { TokenCredential } from "@azure/identity";
import type { ApiServer } from "../apiserver/server.ts";
import { FakeArm } from "../arm/server.ts";
import { selfSignedCertificate } from "../arm/tls.ts";
import { connect, type KubeApi } from "../../src/kube/client.ts";
import { validateSpec } from "../../src/spec/load.ts";
import type { ClusterSpec, ClusterSpecInput } from "../../src/spec/schema.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../../src/ipam/annotation.ts";
import { NAMESPACE } from "../../src/manifests/names.ts";
import type { ArmOptions } from "../../src/azure/arm-client.ts";

export const silentLog = pino({ level: "silent" });
export const ROUTE_TABLE = {
  subscriptionId: "1d2c3b4a-0000-4000-8000-00000000a1b2",
  resourceGroup: "MC_rg",
  name: "rt",
};

export const credential: TokenCredential = {
  getToken: async () => ({ token: "test-token", expiresOnTimestamp: Date.now() + 3_600_000 }),
};

export function testSpec(extra: Partial<ClusterSpecInput> = {}): ClusterSpec {
  return validateSpec({ name: "aks", nodeSubnet: "10.224.0.0/16", podPool: ["10.241.0.0/16"], ...extra });
}

export function prepareCluster(server: ApiServer): KubeApi {
  server.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  return connect(server.kubeConfig());
}

export async function startArm(): Promise<{ arm: FakeArm; options: ArmOptions }> {
  const arm = new FakeArm();
  const certificate = await selfSignedCertificate();
  const endpoint = await arm.start(certificate);
  arm.addTable(ROUTE_TABLE.subscriptionId, ROUTE_TABLE.resourceGroup, ROUTE_TABLE.name);
  return { arm, options: { endpoint, credential, ca: certificate.cert, pollIntervalMs: 5 } };
}

/** A node as the kubelet registers it. */
export function addNode(server: ApiServer, name: string, ip: string): void {
  server.put({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    spec: {
      providerID: `azure:///subscriptions/sub-1/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachines/${name}`,
    },
    status: { addresses: [{ type: "InternalIP", address: ip }] },
  });
}

export function nodeIp(index: number): string {
  return `10.224.${Math.floor(index / 250)}.${(index % 250) + 4}`;
}

export function blocksByNode(server: ApiServer): Map<string, string[]> {
  return new Map(
    server.list("v1", "Node").map((node) => {
      const metadata = node.metadata as { name: string; annotations?: Record<string, string> };
      return [metadata.name, parseBlocksAnnotation(metadata.annotations?.[BLOCKS_ANNOTATION])];
    }),
  );
}

/** Polls `condition` until it holds; fails after `timeoutMs` with `what`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Resolves once `condition` holds, re-checking it after every change the API server stores and every
 * request it answers (no polling); fails after `timeoutMs` with `what`.
 */
export async function whenServerSees(
  server: ApiServer,
  what: string,
  condition: () => boolean,
  timeoutMs = 20_000,
): Promise<void> {
  if (condition()) return;
  let stop: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for: ${what}`)), timeoutMs);
      const check = () => {
        if (condition()) resolve();
      };
      const stops = [server.onChange(check), server.onRequest(check)];
      stop = () => stops.forEach((unsubscribe) => unsubscribe());
    });
  } finally {
    clearTimeout(timer);
    stop();
  }
}

/** A TCP port free on loopback now (for a --listen address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
