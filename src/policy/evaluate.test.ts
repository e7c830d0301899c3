import { describe, expect, it } from "vitest";
import { mayConnect } from "./evaluate.ts";
import type { NetworkPolicy, PolicyPod, PolicyWorld } from "./model.ts";

const NODE_IP = "10.224.0.4";
const ctx = { nodeIPOf: () => NODE_IP };

function pod(namespace: string, name: string, ip: string, labels: Record<string, string> = {}): PolicyPod {
  return {
    namespace,
    name,
    ip,
    node: "n1",
    labels: { app: name, ...labels },
    ports: [
      { name: "http", port: 8080, protocol: "TCP" },
      { name: "dns", port: 53, protocol: "UDP" },
    ],
  };
}

const server = pod("prod", "server", "10.244.0.2");
const client = pod("prod", "client", "10.244.0.3", { role: "frontend" });
const other = pod("dev", "other", "10.244.1.2", { role: "frontend" });

function world(...policies: NetworkPolicy["spec"][]): PolicyWorld {
  return {
    pods: [server, client, other],
    namespaces: [
      { name: "prod", labels: { env: "prod" } },
      { name: "dev", labels: { env: "dev" } },
    ],
    policies: policies.map((spec, index) => ({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: `p${index}`, namespace: "prod" },
      spec,
    })),
  };
}

const to = (
  w: PolicyWorld,
  from: PolicyPod | string,
  port = 8080,
  protocol: "TCP" | "UDP" | "SCTP" = "TCP",
  target = server,
) =>
  mayConnect(
    w,
    typeof from === "string" ? { ip: from } : { pod: from, ip: from.ip },
    target,
    port,
    protocol,
    ctx,
  );

describe("mayConnect", () => {
  it("allows everything without policies, and denies ingress under an empty-rule policy", () => {
    expect(to(world(), client)).toBe(true);
    const deny = world({ podSelector: {}, policyTypes: ["Ingress"], ingress: [] });
    expect(to(deny, client)).toBe(false);
    expect(to(deny, "192.168.1.1")).toBe(false);
  });

  it("lets the pod's own node and the pod itself through any isolation", () => {
    const deny = world({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    expect(to(deny, NODE_IP)).toBe(true);
    expect(to(deny, server)).toBe(true);
    expect(mayConnect(deny, { pod: server, ip: server.ip }, { ip: NODE_IP }, 10250, "TCP", ctx)).toBe(true);
  });

  it("defaults policyTypes: Ingress always, Egress only with egress rules", () => {
    const egressRules = world({
      podSelector: { matchLabels: { app: "client" } },
      egress: [{ to: [{ podSelector: { matchLabels: { app: "other" } } }] }],
    });
    expect(to(egressRules, client)).toBe(false); // client's egress is isolated, server is not a peer
    expect(to(egressRules, server, 8080, "TCP", client)).toBe(false); // client's ingress is isolated too
    const noEgress = world({ podSelector: { matchLabels: { app: "client" } }, egress: [] });
    expect(to(noEgress, client)).toBe(true);
  });

  it("ANDs namespaceSelector and podSelector within one peer, ORs peers", () => {
    const both = world({
      podSelector: { matchLabels: { app: "server" } },
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { env: "dev" } },
              podSelector: { matchLabels: { role: "frontend" } },
            },
          ],
        },
      ],
    });
    expect(to(both, other)).toBe(true);
    expect(to(both, client)).toBe(false);
    const either = world({
      podSelector: { matchLabels: { app: "server" } },
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { env: "dev" } } },
            { podSelector: { matchLabels: { role: "frontend" } } },
          ],
        },
      ],
    });
    expect(to(either, other)).toBe(true);
    expect(to(either, client)).toBe(true);
  });

  it("matches label expressions In, NotIn, Exists, DoesNotExist", () => {
    const expr = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", values?: string[]) =>
      world({
        podSelector: {},
        ingress: [
          {
            from: [
              {
                podSelector: { matchExpressions: [{ key: "role", operator, ...(values ? { values } : {}) }] },
              },
            ],
          },
        ],
      });
    expect(to(expr("In", ["frontend"]), client)).toBe(true);
    expect(to(expr("NotIn", ["frontend"]), client)).toBe(false);
    expect(to(expr("NotIn", ["frontend"]), server, 8080, "TCP", client)).toBe(true); // server has no role
    expect(to(expr("Exists"), client)).toBe(true);
    expect(to(expr("DoesNotExist"), client)).toBe(false);
  });

  it("ipBlock matches addresses, pod IPs included, minus except", () => {
    const block = world({
      podSelector: {},
      ingress: [{ from: [{ ipBlock: { cidr: "10.244.0.0/16", except: ["10.244.0.3/32"] } }] }],
    });
    expect(to(block, other)).toBe(true);
    expect(to(block, client)).toBe(false);
    expect(to(block, "10.244.200.1")).toBe(true);
    expect(to(block, "10.245.0.1")).toBe(false);
  });

  it("matches ports by protocol, range and name (resolved on the server)", () => {
    const ports = world({
      podSelector: {},
      ingress: [
        { ports: [{ port: 80, endPort: 90 }, { port: "dns", protocol: "UDP" }, { protocol: "SCTP" }] },
      ],
    });
    expect(to(ports, client, 85)).toBe(true);
    expect(to(ports, client, 91)).toBe(false);
    expect(to(ports, client, 85, "UDP")).toBe(false);
    expect(to(ports, client, 53, "UDP")).toBe(true);
    expect(to(ports, client, 53, "TCP")).toBe(false);
    expect(to(ports, client, 9999, "SCTP")).toBe(true);
  });

  it("resolves an egress named port against the destination pod; an address that is no pod has none", () => {
    const egress = world({
      podSelector: { matchLabels: { app: "client" } },
      policyTypes: ["Egress"],
      egress: [{ ports: [{ port: "http" }] }],
    });
    expect(to(egress, client, 8080)).toBe(true);
    expect(to(egress, client, 80)).toBe(false);
    expect(mayConnect(egress, { pod: client, ip: client.ip }, { ip: "192.168.1.1" }, 8080, "TCP", ctx)).toBe(
      false,
    );
  });

  it("needs both the client's egress and the server's ingress", () => {
    const w = world(
      {
        podSelector: { matchLabels: { app: "client" } },
        policyTypes: ["Egress"],
        egress: [{ ports: [{ port: 8080 }] }],
      },
      {
        podSelector: { matchLabels: { app: "server" } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ port: 9090 }] }],
      },
    );
    expect(to(w, client, 8080)).toBe(false);
    expect(to(w, client, 9090)).toBe(false);
  });
});
