import { describe, expect, it } from "vitest";
import { CHECKS, CHECK_IDS, reachedHttp, runCheck, seenAddress, type Fixture } from "./checks.ts";
import type { ClusterDriver, ExecResult } from "./driver.ts";

function result(code: number, stdout = "", stderr = ""): ExecResult {
  return { argv: ["x"], code, stdout, stderr, durationMs: 1 };
}

/** A driver whose pods and nodes answer every command with `answer(where, argv)`. */
function fixture(answer: (where: string, argv: string[]) => ExecResult): Fixture {
  const driver = {
    execInPod: async (pod: { name: string }, argv: string[]) => answer(`pod ${pod.name}`, argv),
    execOnNode: async (node: { name: string }, argv: string[]) => answer(`node ${node.name}`, argv),
    externalClient: () => ({ supported: false, reason: "no internet host" }),
  } as unknown as ClusterDriver;
  const a = { name: "node1", ip: "10.224.0.4" };
  return {
    driver,
    env: {
      echoUrl: "http://198.51.100.10/cgi-bin/clientip",
      expectedEgressSource: (node) => node.ip,
      clusterDnsIp: "10.0.0.10",
      dnsName: "example.test",
      dnsAddress: "198.51.100.10",
      httpPort: 80,
      clientIpPath: "/cgi-bin/clientip",
    },
    a,
    clientA: { name: "client", node: "node1", ip: "10.224.0.16", role: "client" },
    serverA: { name: "server", node: "node1", ip: "10.224.0.17", role: "http" },
    serviceA: { name: "svc", clusterIP: "10.0.0.100", port: 80, protocol: "TCP", nodePort: 30000 },
    hostPort: 8080,
  };
}

const check = (id: string) => CHECKS.find((candidate) => candidate.id === id)!;

describe("check helpers", () => {
  it("finds the address a server saw in its answer", () => {
    expect(seenAddress("::ffff:10.224.0.16\n")).toBe("10.224.0.16");
    expect(seenAddress("10.224.0.16:43210")).toBe("10.224.0.16");
    expect(seenAddress("nothing")).toBeUndefined();
  });

  it("counts an HTTP error answer as reached and a refused or timed-out one as not", () => {
    expect(reachedHttp(result(1, "", "wget: server returned error: HTTP/1.1 404 Not Found"))).toBe(true);
    expect(reachedHttp(result(1, "", "wget: can't connect to remote host: Connection refused"))).toBe(false);
    expect(reachedHttp(result(143))).toBe(false);
  });

  it("defines every check once", () => {
    expect(CHECKS.map((candidate) => candidate.id)).toEqual([...CHECK_IDS]);
  });
});

describe("checks", () => {
  it("egress fails when the server sees the pod's own address instead of the node's", async () => {
    const outcome = await runCheck(
      check("egress"),
      fixture(() => result(0, "10.224.0.16\n")),
    );
    expect(outcome.status).toBe("fail");
    expect(outcome.reason).toMatch(/saw 10\.224\.0\.16, expected 10\.224\.0\.4/);
    expect(outcome.evidence[0]).toMatchObject({ where: "pod client", code: 0 });
  });

  it("pod routes accept both the gateway form and the scope-link form, nothing else", async () => {
    for (const [routes, status] of [
      ["default via 10.224.0.1 dev eth0 \n", "pass"],
      ["default dev eth0 scope link\n", "pass"],
      ["10.224.0.0/16 via 10.224.0.1 dev eth0\n", "fail"],
      ["default via 10.224.0.1 dev eth1\n", "fail"],
    ] as const) {
      expect(
        (
          await runCheck(
            check("pod-routes"),
            fixture(() => result(0, routes)),
          )
        ).status,
      ).toBe(status);
    }
  });

  it("a metadata check fails when the node cannot reach the endpoint either (the control)", async () => {
    const outcome = await runCheck(
      check("imds-closed"),
      fixture(() => result(143)),
    );
    expect(outcome.status).toBe("fail");
    expect(outcome.reason).toMatch(/control failed/);
  });

  it("a metadata check passes only when pods are refused and the node is answered", async () => {
    const answer = (where: string) =>
      where.startsWith("node") ? result(0, "ok") : result(1, "", "Connection refused");
    expect((await runCheck(check("wireserver-closed"), fixture(answer))).status).toBe("pass");
  });

  it("cross-node checks do not apply to one node, NodePort not without an external client", async () => {
    const one = fixture(() => result(0));
    expect((await runCheck(check("pod-to-pod-cross-node"), one)).status).toBe("not-applicable");
    const nodePort = await runCheck(check("nodeport-same-node"), one);
    expect(nodePort).toMatchObject({ status: "not-applicable", reason: "no internet host" });
  });

  describe("the MTU across nodes", () => {
    const twoNodes = (base: Fixture, podMtu?: number): Fixture => ({
      ...base,
      b: { name: "node2", ip: "10.224.0.5" },
      serverB: { name: "server-b", node: "node2", ip: "10.224.0.33", role: "http" },
      serviceB: { name: "svc-b", clusterIP: "10.0.0.101", port: 80, protocol: "TCP", nodePort: 30001 },
      ...(podMtu === undefined ? {} : { podMtu }),
    });
    const LINK = "2: eth0@if2: <BROADCAST,MULTICAST,UP> mtu 1450 qdisc noqueue\n";
    /** Pods whose eth0 has MTU 1450, and a path that carries echo payloads up to `largest` bytes. */
    const path = (largest: number) => (_where: string, argv: string[]) => {
      if (argv.includes("link")) return result(0, LINK);
      const size = Number(argv[argv.indexOf("-s") + 1]);
      const answer = size <= largest ? result(0, "1 packets received") : result(1, "0 packets received");
      return { ...answer, argv };
    };

    it("passes when a packet of the full MTU and one byte more cross, and the MTU is the spec's", async () => {
      const outcome = await runCheck(check("pod-mtu-cross-node"), twoNodes(fixture(path(9000)), 1450));
      expect(outcome).toMatchObject({ status: "pass" });
      const sizes = outcome.evidence.map((step) => step.argv[step.argv.indexOf("-s") + 1]);
      expect(sizes.slice(1)).toEqual(["1422", "1423"]);
    });

    it("fails when the full-MTU packet is lost, or when the pod's MTU is not the spec's", async () => {
      const lost = await runCheck(check("pod-mtu-cross-node"), twoNodes(fixture(path(1421))));
      expect(lost.status).toBe("fail");
      expect(lost.reason).toMatch(/ping -s 1422 10\.224\.0\.33/);
      const wrongMtu = await runCheck(check("pod-mtu-cross-node"), twoNodes(fixture(path(9000)), 1500));
      expect(wrongMtu).toMatchObject({
        status: "fail",
        reason: "the pod's eth0 has MTU 1450, the spec gives pods 1500",
      });
    });
  });

  it("a check that throws fails with the error as its reason", async () => {
    const outcome = await runCheck(
      check("dns"),
      fixture(() => {
        throw new Error("exec broke");
      }),
    );
    expect(outcome).toMatchObject({ status: "fail", reason: "the check could not run: exec broke" });
  });
});
