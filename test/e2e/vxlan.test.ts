// The VXLAN overlay (routing.mode vxlan) on a real kernel, one boot, three nodes: the VNet routes only
// NIC addresses (no route for any pod block; the tunnel's UDP between the NICs passes), the node agent
// keeps the tunnel device and its entries, and
//  - every check of the suite passes (pod to pod across nodes goes through the tunnel, source kept;
//    egress leaves masqueraded to the node IP);
//  - a UDP datagram with DF that fills the pod MTU crosses between pods of two nodes, one a byte larger
//    does not;
//  - negative control: the second node's tunnel entries removed on the first node cut the path to it,
//    while the first node's own pods and the third node stay reachable; the agent's next reconcile
//    repairs them, and a reconcile at rest repairs nothing;
//  - the VNet drops what a NIC sends from another address (Azure without IP forwarding): a pod's reply
//    to another node's IP (a NodePort there, after kube-proxy's SNAT) takes the tunnel through the
//    rule into the overlay's table; without that rule on the pod's node the NodePort gets no answer;
//  - NetworkPolicy holds across the tunnel: a server on the second node that admits one pod of the
//    first refuses the first node's other pod and a pod of its own node; without the policy (the
//    negative control) all three connect; with the server's own rules flushed (drift), the node's
//    FORWARD still refuses the first node's other pod;
//  - the third node leaves (the others' agents run without it) and joins again while a pod on the first
//    node exchanges datagrams with one on the second: every datagram comes back; after the leave the
//    third node's pod is no longer routed through the tunnel and gets no answer (negative control),
//    after the join it is tunnelled and answers.
import { beforeAll, describe, expect, it } from "vitest";
import type { ClusterSpecInput } from "../../src/spec/schema.ts";
import { validateSpec } from "../../src/spec/load.ts";
import { podMtu } from "../../src/spec/mtu.ts";
import { CHECK_IDS } from "../../src/verify/checks.ts";
import type { SuiteResult } from "../../src/testbed/job.ts";
import { BOOT_TIMEOUT_MS, runTestbedSpec, statusOf } from "./testbed.ts";

const SPEC: ClusterSpecInput = {
  nodeSubnet: "10.224.0.0/16",
  podPool: ["10.241.0.0/16"],
  routing: { mode: "vxlan" },
  agent: { policy: { enabled: true } },
  nodes: [
    { name: "node1", ip: "10.224.0.4" },
    { name: "node2", ip: "10.224.0.5" },
    { name: "node3", ip: "10.224.0.6" },
  ],
};

let result: SuiteResult;

beforeAll(async () => {
  const started = performance.now();
  result = await runTestbedSpec(SPEC, { profiles: ["product"], controls: false, overlay: true });
  console.log(
    JSON.stringify({
      vxlanE2eMs: Math.round(performance.now() - started),
      setupMs: result.profiles[0]?.setupMs,
      suiteMs: result.profiles[0]?.suiteMs,
    }),
  );
}, BOOT_TIMEOUT_MS);

const overlay = () => {
  if (!result.overlay) throw new Error("the guest ran no overlay checks");
  return result.overlay;
};

describe("vxlan mode: the suite", () => {
  it.each(CHECK_IDS)("%s passes", (id) => {
    expect(statusOf(result.profiles[0]!.results, id)).toBe("pass");
  });
});

describe("vxlan mode: the pod MTU across the tunnel", () => {
  it("is the node MTU less the tunnel's 50 bytes", () => {
    expect(overlay().podMtu).toBe(podMtu(validateSpec(SPEC)));
    expect(overlay().podMtu).toBe(1450);
  });

  it("carries a datagram with DF that fills the pod MTU, echoed whole", () => {
    expect(overlay().full).toMatchObject({ payload: 1450 - 28, code: 0, echoed: 1450 - 28 });
  });

  it("refuses one a byte larger with DF (the pod's own MTU: Message too long)", () => {
    expect(overlay().over.code).not.toBe(0);
    expect(overlay().over.echoed).toBe(0);
    expect(overlay().over.output).toMatch(/Message too long/);
  });
});

describe("vxlan mode: the second node's tunnel entries removed on the first", () => {
  const removed = (id: string, nodes: string) =>
    overlay().removed.find((check) => check.id === id && check.nodes.startsWith(nodes));

  it("cuts pod to pod towards it", () => {
    const check = removed("pod-to-pod-cross-node", "node1→node2");
    expect(check?.status).toBe("fail");
    expect(check?.reason).toMatch(/no answer within/);
  });

  it("leaves the first node's own pods and the third node reachable", () => {
    expect(removed("pod-to-pod-same-node", "node1")?.status).toBe("pass");
    expect(removed("pod-to-pod-cross-node", "node1→node3")?.status).toBe("pass");
  });

  it("the agent's next reconcile puts back the route, the neighbour and the forwarding entry", () => {
    expect(overlay().repairs).toEqual(
      expect.arrayContaining([
        { kind: "overlay-route-missing", count: 1 },
        { kind: "overlay-neighbour-missing", count: 1 },
        { kind: "overlay-fdb-missing", count: 1 },
      ]),
    );
    expect(overlay().repaired.status).toBe("pass");
  });

  it("a reconcile at rest repairs nothing (tunnel entries and the mark read back as rendered)", () => {
    expect(overlay().atRest).toEqual([]);
  });
});

describe("vxlan mode: pod replies to another node's IP", () => {
  it("take the tunnel: without the pod node's rule a cross-node NodePort gets no answer", () => {
    expect(overlay().rule.without.status).toBe("fail");
    expect(overlay().rule.without.reason).toMatch(/no answer within/);
  });

  it("the agent puts the rule back and the NodePort answers again", () => {
    expect(overlay().rule.repairs).toEqual(["overlay-rule-missing"]);
    expect(overlay().rule.with.status).toBe("pass");
  });
});

describe("vxlan mode: NetworkPolicy against pods of other nodes", () => {
  const policy = () => overlay().policy;

  it("without a policy, the first node's pods and the server's neighbour connect (negative control)", () => {
    expect(policy().open).toEqual({ allowed: "open", other: "open", sameNode: "open" });
  });

  it("the allowed pod of the first node connects", () => {
    expect(policy().enforced.verdicts.allowed).toBe("open");
  });

  it("the first node's other pod is refused", () => {
    expect(policy().enforced.verdicts.other).toBe("refused");
  });

  it("a pod on the server's own node is refused", () => {
    expect(policy().enforced.verdicts.sameNode).toBe("refused");
  });

  it("with the server's own rules flushed, the node still refuses the first node's other pod", () => {
    expect(policy().withoutPodRules.verdicts).toMatchObject({ allowed: "open", other: "refused" });
  });
});

describe("vxlan mode: a node leaving and joining while traffic runs", () => {
  const membership = () => overlay().membership;

  it("reaches the third node's pod through the tunnel before", () => {
    expect(membership().before).toMatchObject({ code: 0, echoed: 64 });
  });

  it("after the leave, the others remove its entries and its pod is no longer tunnelled (negative control)", () => {
    for (const kinds of membership().left.repairs) {
      expect(kinds).toEqual(
        expect.arrayContaining(["overlay-route-stale", "overlay-neighbour-stale", "overlay-fdb-stale"]),
      );
    }
    expect(membership().left.tunnelled).toBe(false);
    expect(membership().left.probe.echoed).toBe(0);
  });

  it("after the join, the others add its entries and its pod answers through the tunnel", () => {
    for (const kinds of membership().joined.repairs) {
      expect(kinds).toEqual(
        expect.arrayContaining(["overlay-route-missing", "overlay-neighbour-missing", "overlay-fdb-missing"]),
      );
    }
    expect(membership().joined.tunnelled).toBe(true);
    expect(membership().joined.probe).toMatchObject({ code: 0, echoed: 64 });
  });

  it("traffic between the other two nodes' pods kept flowing: every datagram came back", () => {
    expect(membership().flow.sent).toBeGreaterThanOrEqual(2);
    expect(membership().flow.echoed).toBe(membership().flow.sent);
  });
});
