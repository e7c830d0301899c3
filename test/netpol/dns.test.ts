// DNS under an egress default-deny: nothing special is allowed; a rule for port 53 to the DNS pods'
// namespace lets lookups through the kube-dns ClusterIP (checked on the node after DNAT), and nothing else.
import { describe, expect, it } from "vitest";
import { mayConnect } from "../../src/policy/evaluate.ts";
import type { NetworkPolicy, PolicyPod, PolicyWorld } from "../../src/policy/model.ts";
import { SimCluster } from "./cluster-sim.ts";

const NODE_IPS = { n1: "10.224.0.4", n2: "10.224.0.5" };
const app: PolicyPod = {
  namespace: "shop",
  name: "web",
  ip: "10.244.0.4",
  node: "n1",
  labels: { app: "web" },
  ports: [],
};
const dnsPort = (protocol: "UDP" | "TCP") => ({ name: `dns-${protocol.toLowerCase()}`, port: 53, protocol });
const coredns = (name: string, ip: string, node: string): PolicyPod => ({
  namespace: "kube-system",
  name,
  ip,
  node,
  labels: { "k8s-app": "kube-dns" },
  ports: [dnsPort("UDP"), dnsPort("TCP")],
});
const local = coredns("coredns-1", "10.244.0.5", "n1");
const remote = coredns("coredns-2", "10.244.0.20", "n2");
const api: PolicyPod = {
  ...local,
  name: "metrics",
  ip: "10.244.0.21",
  node: "n2",
  labels: { app: "metrics" },
  ports: [],
};

function world(policies: NetworkPolicy["spec"][]): PolicyWorld {
  return {
    pods: [app, local, remote, api],
    namespaces: [
      { name: "shop", labels: { "kubernetes.io/metadata.name": "shop" } },
      { name: "kube-system", labels: { "kubernetes.io/metadata.name": "kube-system" } },
    ],
    policies: policies.map((spec, index) => ({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: `p${index}`, namespace: "shop" },
      spec,
    })),
  };
}

const denyEgress: NetworkPolicy["spec"] = { podSelector: {}, policyTypes: ["Egress"] };
const allowDns: NetworkPolicy["spec"] = {
  podSelector: {},
  policyTypes: ["Egress"],
  egress: [
    {
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
          podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        },
      ],
      ports: [
        { port: 53, protocol: "UDP" },
        { port: "dns-tcp", protocol: "TCP" },
      ],
    },
  ],
};

describe("DNS when egress is isolated", () => {
  const cases: [string, NetworkPolicy["spec"][], PolicyPod, number, "UDP" | "TCP", boolean][] = [
    ["deny-all blocks DNS on this node", [denyEgress], local, 53, "UDP", false],
    ["deny-all blocks DNS on another node", [denyEgress], remote, 53, "TCP", false],
    ["the DNS rule allows UDP 53 on this node", [denyEgress, allowDns], local, 53, "UDP", true],
    [
      "the DNS rule allows TCP 53 (named port) on another node",
      [denyEgress, allowDns],
      remote,
      53,
      "TCP",
      true,
    ],
    [
      "the DNS rule does not open other ports of the DNS pods",
      [denyEgress, allowDns],
      local,
      80,
      "TCP",
      false,
    ],
    [
      "the DNS rule does not open port 53 of other kube-system pods",
      [denyEgress, allowDns],
      api,
      53,
      "UDP",
      false,
    ],
  ];
  it.each(cases)("%s", (_name, specs, server, port, protocol, allowed) => {
    const w = world(specs);
    const nodeIPOf = (pod: PolicyPod) => NODE_IPS[pod.node as keyof typeof NODE_IPS];
    expect(mayConnect(w, { pod: app, ip: app.ip }, server, port, protocol, { nodeIPOf })).toBe(allowed);
    const cluster = new SimCluster(w, {
      nodeIPs: NODE_IPS,
      podCIDRs: { n1: ["10.244.0.0/28"], n2: ["10.244.0.16/28"] },
      serviceCIDR: "10.0.0.0/16",
      clusterIP: "10.0.0.10",
    });
    expect(cluster.connectViaService(app, server, port, protocol), "through the kube-dns ClusterIP").toBe(
      allowed,
    );
    expect(cluster.connect({ pod: app }, { pod: server }, port, protocol), "to the pod IP").toBe(allowed);
  });
});
