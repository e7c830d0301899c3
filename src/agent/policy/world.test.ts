import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../kube/api.ts";
import { buildWorld, policyPod } from "./world.ts";

const pod = (name: string, extra: { spec?: object; status?: object } = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "x", labels: { app: name } },
  spec: {
    nodeName: "n1",
    containers: [
      {
        ports: [
          { name: "http", containerPort: 8080 },
          { containerPort: 53, protocol: "UDP" },
        ],
      },
    ],
    ...extra.spec,
  },
  status: { phase: "Running", podIP: "10.224.0.16", ...extra.status },
});

describe("the policy world from the informers' objects", () => {
  it("takes a running pod's IP, node, labels and container ports (TCP by default)", () => {
    expect(policyPod(pod("a"))).toEqual({
      namespace: "x",
      name: "a",
      ip: "10.224.0.16",
      node: "n1",
      labels: { app: "a" },
      ports: [
        { name: "http", port: 8080, protocol: "TCP" },
        { port: 53, protocol: "UDP" },
      ],
    });
  });

  it("leaves out host-network pods, pods without an IP yet, and finished pods", () => {
    expect(policyPod(pod("h", { spec: { hostNetwork: true } }))).toBeUndefined();
    expect(policyPod(pod("p", { status: { podIP: undefined, phase: "Pending" } }))).toBeUndefined();
    expect(policyPod(pod("s", { status: { phase: "Succeeded" } }))).toBeUndefined();
  });

  it("keeps namespaces' labels and names each policy that does not parse, leaving it out", () => {
    const { world, rejected } = buildWorld({
      pods: [pod("a")],
      namespaces: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "x", labels: { team: "t" } } }],
      policies: [
        {
          apiVersion: "networking.k8s.io/v1",
          kind: "NetworkPolicy",
          metadata: { name: "ok", namespace: "x" },
          spec: { podSelector: {} },
        },
        {
          apiVersion: "networking.k8s.io/v1",
          kind: "NetworkPolicy",
          metadata: { name: "bad", namespace: "x" },
          spec: { podSelector: {}, ingress: [{ ports: [{ port: 99999 }] }] },
        },
      ],
    });
    expect(world.namespaces).toEqual([{ name: "x", labels: { team: "t" } }]);
    expect(world.policies.map((policy) => policy.metadata?.name)).toEqual(["ok"]);
    expect(rejected).toEqual([expect.stringMatching(/^x\/bad: .*ports/)]);
    expect(world.pods).toHaveLength(1);
  });
});
