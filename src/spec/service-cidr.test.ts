// The Service CIDR is the one range NetworkPolicy lets every pod reach from its own namespace (the node
// judges the backend after DNAT). These tests go from a spec through the planner to the compiled pod
// rules: whatever serviceCidr a spec holds, once it passes validation the service ACCEPT of an
// egress-isolated pod covers no node block, no pod pool and no node address.
import { describe, expect, it } from "vitest";
import { UserError } from "../errors/user-error.ts";
import { plan } from "../ipam/planner.ts";
import { type Cidr, overlaps, parseCidr } from "../net/cidr.ts";
import { EGRESS_CHAIN, compilePodFirewalls } from "../policy/pod-firewall.ts";
import type { PolicyPod, PolicyWorld } from "../policy/model.ts";
import { parseSpec } from "./load.ts";

const LAYOUT = `nodeSubnet: 10.240.0.0/16
podPool: [10.241.0.0/16, 10.242.0.0/16]
nodes:
  - {name: node1, ip: 10.240.0.4}
  - {name: node2, ip: 10.240.0.5, block: 10.242.1.0/28}
agent: {policy: {enabled: true}}
`;

const specWith = (serviceCidr: string) => parseSpec(`${LAYOUT}serviceCidr: "${serviceCidr}"\n`);

/** A world where a default-deny policy isolates the pod's egress. */
function denyEgress(pod: PolicyPod): PolicyWorld {
  return {
    pods: [pod],
    namespaces: [{ name: pod.namespace, labels: {} }],
    policies: [
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "deny-egress", namespace: pod.namespace },
        spec: { podSelector: {}, policyTypes: ["Egress"] },
      },
    ],
  };
}

/** A pod on node1 whose egress a default-deny policy isolates. */
function compiledEgress(serviceCidr: string): { lines: string[]; protectedRanges: Cidr[] } {
  const spec = specWith(serviceCidr);
  const planned = plan(spec);
  const node1 = planned.nodes.find((node) => node.name === "node1")!;
  const firstIp = node1.blocks[0]!.cidr.split("/")[0]!;
  const pod: PolicyPod = { namespace: "x", name: "a", ip: firstIp, node: "node1", labels: {}, ports: [] };
  const firewall = compilePodFirewalls(denyEgress(pod), [pod], {
    serviceCIDR: spec.serviceCidr,
    nodeIPOf: () => node1.ip,
    podCIDRsOf: () => node1.blocks.map((block) => block.cidr),
  }).get("x/a")!;
  const lines = firewall.restore.split("\n").filter((line: string) => line.startsWith(`-A ${EGRESS_CHAIN} `));
  const protectedRanges = [
    spec.nodeSubnet,
    ...spec.podPool,
    ...planned.nodes.flatMap((node) => node.blocks.map((block) => block.cidr)),
  ].map((text) => parseCidr(text));
  return { lines, protectedRanges };
}

const serviceAccepts = (lines: string[]) =>
  lines
    .filter((line) => line.includes("service: checked on the node after DNAT"))
    .map((line) => parseCidr(/ -d (\S+) /.exec(line)![1]!));

describe("serviceCidr goes through the address policy", () => {
  it.each([
    ["every address", "0.0.0.0/0", /wider than any VNet range/],
    ["all of 10/8, which holds the node subnet and the pool", "10.0.0.0/8", /overlaps nodeSubnet/],
    ["loopback", "127.0.0.0/8", /loopback/],
    ["link-local with IMDS", "169.254.0.0/16", /link-local/],
    ["the node subnet", "10.240.0.0/16", /overlaps nodeSubnet 10.240.0.0\/16/],
    ["part of the node subnet", "10.240.128.0/20", /overlaps nodeSubnet/],
    ["the pod pool", "10.241.0.0/16", /overlaps podPool\[0\]/],
    ["a pinned block", "10.242.1.0/28", /overlaps nodes\[1\]\.block 10.242.1.0\/28/],
  ])("refuses %s (%s) at serviceCidr, with a fix", (_name, cidr, message) => {
    let thrown: unknown;
    try {
      specWith(cidr);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UserError);
    const findings = (thrown as UserError).findings.filter((f) => f.path === "serviceCidr");
    expect(findings.map((f) => f.message).join("\n")).toMatch(message);
    for (const finding of findings) expect(finding.fix).toBeTruthy();
  });

  it.each(["10.0.0.0/16", "172.20.0.0/16", "192.168.0.0/20"])(
    "accepts %s, and its service ACCEPT in the compiled pod rules covers no block, pool or node subnet",
    (cidr) => {
      const { lines, protectedRanges } = compiledEgress(cidr);
      const accepts = serviceAccepts(lines);
      expect(accepts).toEqual([parseCidr(cidr)]);
      for (const accept of accepts) {
        for (const range of protectedRanges) expect(overlaps(accept, range)).toBe(false);
      }
      // The same-node REJECT still follows the service ACCEPT: the node's own pods stay denied.
      const reject = lines.findIndex((line) => line.includes("REJECT"));
      expect(reject).toBeGreaterThan(lines.findIndex((line) => line.includes("service: checked")));
    },
  );

  it("a second layer: an overlapping Service CIDR that bypassed the spec is refused by the compiler", () => {
    // What the issue saw was compile taking the range as given; now it refuses (policy/pod-firewall.ts).
    const spec = specWith("10.0.0.0/16");
    const node1 = plan(spec).nodes[0]!;
    const pod: PolicyPod = {
      namespace: "x",
      name: "a",
      ip: "10.241.0.1",
      node: "node1",
      labels: {},
      ports: [],
    };
    const compile = () =>
      compilePodFirewalls(denyEgress(pod), [pod], {
        serviceCIDR: "0.0.0.0/0",
        nodeIPOf: () => node1.ip,
        podCIDRsOf: () => node1.blocks.map((b) => b.cidr),
      });
    expect(compile).toThrow(/0\.0\.0\.0\/0/);
  });
});
