// The node agent's client (src/kube/rest-client.ts) against the REAL kube-apiserver (test/realkube),
// as a ServiceAccount with a token from the TokenRequest API, bound to the ClusterRole that `render`
// writes for the agent (under a name of this file's own: the API server is shared): the reads the agent makes succeed, a read outside its role gets the API server's
// own 403, TLS is checked against the CA made at start, and the real kubectl says the same over https.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { restClient } from "../../src/kube/rest-client.ts";
import { ClusterUnreachableError, KubeApiError } from "../../src/kube/errors.ts";
import type { KubeObject, KubeReader, WatchEvent } from "../../src/kube/api.ts";
import { parseSpec } from "../../src/spec/load.ts";
import { renderManifests } from "../../src/manifests/render.ts";
import { AGENT_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import { selfSignedCertificate } from "../arm/tls.ts";
import { adminApi, bindRenderedRbac, kubectl, realKube, serviceAccountToken } from "../realkube/cluster.ts";

const seed = readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8");
const manifests = renderManifests(
  parseSpec(`${seed}\nagent:\n  policy:\n    enabled: true\n`),
) as KubeObject[];
const admin = adminApi();
const suffix = randomBytes(3).toString("hex");
const nodeName = `agent-rbac-${suffix}`;
const namespace = `agent-rbac-${suffix}`;
let token: string;
let agent: KubeReader;

beforeAll(async () => {
  const account = await bindRenderedRbac(admin, manifests, AGENT_NAME, suffix);
  token = await serviceAccountToken(NAMESPACE, account);
  agent = restClient({ server: realKube().url, ca: realKube().ca, token: async () => token });
  await admin.create({ apiVersion: "v1", kind: "Node", metadata: { name: nodeName } });
  await admin.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
});
afterAll(async () => {
  await admin.delete({ apiVersion: "v1", kind: "Node", name: nodeName });
});

describe("the agent's ServiceAccount on the real API server", () => {
  it("reads its Node, lists and watches pods, namespaces and NetworkPolicies", async () => {
    expect((await agent.get({ apiVersion: "v1", kind: "Node", name: nodeName }))?.metadata.name).toBe(
      nodeName,
    );
    const pods = await agent.list("v1", "Pod", { fieldSelector: `spec.nodeName=${nodeName}` });
    expect(pods.items).toEqual([]);
    expect((await agent.list("v1", "Namespace")).items.map((ns) => ns.metadata.name)).toContain(namespace);
    const policies = await agent.list("networking.k8s.io/v1", "NetworkPolicy");

    const events: WatchEvent[] = [];
    const stream = agent.watch(
      "networking.k8s.io/v1",
      "NetworkPolicy",
      { namespace, resourceVersion: policies.resourceVersion },
      (event) => events.push(event),
    );
    try {
      await admin.create({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "deny", namespace },
        spec: { podSelector: {}, policyTypes: ["Ingress"] },
      });
      await expect
        .poll(() => events.map((event) => `${event.type} ${event.object.metadata.name}`))
        .toContain("ADDED deny");
    } finally {
      stream.stop();
    }
    await stream.ended;
  });

  it("is refused, with the API server's 403, what its role does not grant: getting one pod (it may only list and watch)", async () => {
    const refused = await agent
      .get({ apiVersion: "v1", kind: "Pod", name: "any", namespace })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(KubeApiError);
    expect(refused).toMatchObject({ code: 403, status: { reason: "Forbidden" } });
    expect((refused as Error).message).toContain(
      `system:serviceaccount:${NAMESPACE}:${AGENT_NAME}-${suffix}`,
    );
  });

  it("trusts the API server only through the CA made at start, and refuses a token it did not mint", async () => {
    const { url, ca } = realKube();
    const node = { apiVersion: "v1", kind: "Node", name: nodeName };
    const untrusted = await restClient({ server: url, token: async () => token })
      .get(node)
      .catch((error: unknown) => error);
    expect(untrusted).toBeInstanceOf(ClusterUnreachableError);
    const other = await selfSignedCertificate();
    await expect(
      restClient({ server: url, ca: other.cert, token: async () => token }).get(node),
    ).rejects.toThrow(ClusterUnreachableError);
    const forged = await restClient({ server: url, ca, token: async () => `${token.slice(0, -4)}AAAA` })
      .get(node)
      .catch((error: unknown) => error);
    expect((forged as Error).message).toMatch(/refused our credentials \(401\)/);
  });
});

describe("the real kubectl over https", () => {
  it("lists the node as the admin, and as the agent may read nodes but not annotate one", async () => {
    const asAdmin = await kubectl(["get", "node", nodeName, "-o", "jsonpath={.metadata.name}"]);
    expect(asAdmin).toMatchObject({ code: 0, stdout: nodeName });
    const read = await kubectl(["get", "nodes", "-o", "name"], { token });
    expect(read.stdout.split("\n")).toContain(`node/${nodeName}`);
    const write = await kubectl(["annotate", "node", nodeName, "example.com/x=1"], { token });
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/Forbidden.*cannot patch resource "nodes"/);
    const canI = await kubectl(["auth", "can-i", "--list"], { token });
    expect(canI.stdout).toMatch(/networkpolicies\.networking\.k8s\.io\s+\[\]\s+\[\]\s+\[list watch\]/);
  });
});
