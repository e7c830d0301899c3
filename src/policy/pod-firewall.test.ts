import { describe, expect, it } from "vitest";
import {
  EGRESS_CHAIN,
  INGRESS_CHAIN,
  compilePodFirewall,
  isolatedFirewall,
  noPolicyFirewall,
  serviceDestination,
} from "./pod-firewall.ts";
import { chainLines, client, server, world } from "../../test/netpol/compile-fixtures.ts";

const options = { nodeIP: "10.224.0.4", podCIDRs: ["10.244.0.0/28"], serviceCIDR: "10.0.0.0/16" };
describe("compilePodFirewall", () => {
  it("renders one transaction: our chains declared, INPUT/OUTPUT flushed and jumping once each", () => {
    const firewall = compilePodFirewall(
      world({
        podSelector: {},
        ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ port: 8080 }] }],
      }),
      server,
      options,
    );
    const lines = firewall.restore.trimEnd().split("\n");
    expect(lines.slice(0, 7)).toEqual([
      "*filter",
      `:${INGRESS_CHAIN} - [0:0]`,
      `:${EGRESS_CHAIN} - [0:0]`,
      "-F INPUT",
      "-F OUTPUT",
      `-A INPUT -j ${INGRESS_CHAIN}`,
      `-A OUTPUT -j ${EGRESS_CHAIN}`,
    ]);
    expect(lines.at(-1)).toBe("COMMIT");
    expect(chainLines(firewall.restore, INGRESS_CHAIN)).toEqual([
      `-A ${INGRESS_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A ${INGRESS_CHAIN} -i lo -j ACCEPT`,
      `-A ${INGRESS_CHAIN} -s 10.224.0.4/32 -m comment --comment "aks-ipvlan: own node" -j ACCEPT`,
      `-A ${INGRESS_CHAIN} -s 10.244.0.3/32 -p tcp -m tcp --dport 8080 -m comment --comment "aks-ipvlan: policy prod/web" -j ACCEPT`,
      `-A ${INGRESS_CHAIN} -p tcp -m comment --comment "aks-ipvlan: ingress not allowed by policy" -j REJECT --reject-with tcp-reset`,
      `-A ${INGRESS_CHAIN} -m comment --comment "aks-ipvlan: ingress not allowed by policy" -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    expect(chainLines(firewall.restore, EGRESS_CHAIN)).toEqual([]);
    expect(firewall).toMatchObject({ ingressIsolated: true, egressIsolated: false, ruleCount: 8 });
  });

  it("removes everything for a pod no policy selects", () => {
    const firewall = compilePodFirewall(
      world({ podSelector: { matchLabels: { app: "none" } }, ingress: [] }),
      server,
      options,
    );
    expect(firewall).toEqual(noPolicyFirewall());
    expect(firewall.restore).toContain(`-X ${INGRESS_CHAIN}`);
    expect(firewall.restore).not.toContain("-A ");
  });

  it("denies egress to the node's own pods in the pod's namespace and leaves the rest to the node", () => {
    const firewall = compilePodFirewall(world({ podSelector: {}, policyTypes: ["Egress"] }), server, options);
    expect(chainLines(firewall.restore, EGRESS_CHAIN)).toEqual([
      `-A ${EGRESS_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A ${EGRESS_CHAIN} -o lo -j ACCEPT`,
      `-A ${EGRESS_CHAIN} -d 10.224.0.4/32 -m comment --comment "aks-ipvlan: own node" -j ACCEPT`,
      `-A ${EGRESS_CHAIN} -d 10.0.0.0/16 -m comment --comment "aks-ipvlan: service: checked on the node after DNAT" -j ACCEPT`,
      `-A ${EGRESS_CHAIN} -d 10.244.0.0/28 -p tcp -m comment --comment "aks-ipvlan: egress not allowed by policy" -j REJECT --reject-with tcp-reset`,
      `-A ${EGRESS_CHAIN} -d 10.244.0.0/28 -m comment --comment "aks-ipvlan: egress not allowed by policy" -j REJECT --reject-with icmp-port-unreachable`,
      `-A ${EGRESS_CHAIN} -m comment --comment "aks-ipvlan: another node or outside: checked by the node" -j ACCEPT`,
    ]);
  });

  it("turns ipBlock except into plain CIDRs and groups ports per protocol with multiport", () => {
    const ports = Array.from({ length: 16 }, (_, index) => ({ port: 1000 + 2 * index }));
    const firewall = compilePodFirewall(
      world({
        podSelector: {},
        ingress: [
          {
            from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.1.0.0/16"] } }],
            ports: [...ports, { port: 53, protocol: "UDP" }, { port: 80, endPort: 90, protocol: "SCTP" }],
          },
        ],
      }),
      server,
      options,
    );
    const rules = chainLines(firewall.restore, INGRESS_CHAIN).filter((line) =>
      line.includes("policy prod/web"),
    );
    const sources = new Set(rules.map((line) => line.split(" ")[3]));
    expect([...sources]).toEqual([
      "10.0.0.0/16",
      "10.2.0.0/15",
      "10.4.0.0/14",
      "10.8.0.0/13",
      "10.16.0.0/12",
      "10.32.0.0/11",
      "10.64.0.0/10",
      "10.128.0.0/9",
    ]);
    const forOne = rules.filter((line) => line.includes("-s 10.0.0.0/16 "));
    expect(
      forOne.map((line) => line.replace(/^.*-s 10.0.0.0\/16 /, "").replace(/ -m comment.*$/, "")),
    ).toEqual([
      `-p tcp -m multiport --dports ${ports
        .slice(0, 15)
        .map((p) => p.port)
        .join(",")}`,
      "-p tcp -m tcp --dport 1030",
      "-p udp -m udp --dport 53",
      "-p sctp -m sctp --dport 80:90",
    ]);
  });

  it("resolves a named port on the target pod, and matches nothing when the pod lacks it", () => {
    const named = world({ podSelector: {}, ingress: [{ ports: [{ port: "http" }] }] });
    expect(
      chainLines(compilePodFirewall(named, server, options).restore, INGRESS_CHAIN).some((line) =>
        line.includes("--dport 8080"),
      ),
    ).toBe(true);
    const forClient = chainLines(compilePodFirewall(named, client, options).restore, INGRESS_CHAIN);
    expect(forClient.filter((line) => line.includes("policy prod/web"))).toEqual([]);
    expect(forClient.at(-1)).toContain("-j REJECT");
  });

  it("ignores the host bits of an ipBlock and IPv6 blocks", () => {
    const firewall = compilePodFirewall(
      world({
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: "192.168.1.7/24" } }, { ipBlock: { cidr: "fd00::/64" } }] }],
      }),
      server,
      options,
    );
    expect(
      chainLines(firewall.restore, INGRESS_CHAIN).filter((line) => line.includes("policy prod/web")),
    ).toEqual([
      `-A ${INGRESS_CHAIN} -s 192.168.1.0/24 -m comment --comment "aks-ipvlan: policy prod/web" -j ACCEPT`,
    ]);
  });

  it("isolates both directions in the fail-closed payload", () => {
    const firewall = isolatedFirewall(options);
    expect(firewall).toMatchObject({ ingressIsolated: true, egressIsolated: true });
    expect(chainLines(firewall.restore, INGRESS_CHAIN).at(-1)).toContain("isolated until policy is computed");
    expect(firewall.restore).not.toContain("10.0.0.0/16");
  });
});

describe("the Service ACCEPT", () => {
  it("never covers the node's blocks or the pod pool", () => {
    expect(serviceDestination("10.0.0.0/16", ["10.244.0.0/28", "10.244.0.0/16"])).toBe("10.0.0.0/16");
    expect(() => serviceDestination("10.244.0.0/24", ["10.244.0.0/28"])).toThrow(/10\.244\.0\.0\/28/);
    expect(() => serviceDestination("10.0.0.0/8", ["10.244.0.16/28"])).toThrow(/outside the pod pool/);
    const w = world({ podSelector: {}, policyTypes: ["Egress"] });
    expect(() =>
      compilePodFirewall(w, server, {
        ...options,
        serviceCIDR: "10.241.128.0/17",
        podPool: ["10.241.0.0/16"],
      }),
    ).toThrow(/serviceCidr 10\.241\.128\.0\/17 overlaps pod addresses \(10\.241\.0\.0\/16\)/);
  });
});

describe("limits", () => {
  it("keeps a comment for a long policy name within xt_comment's 255 characters", () => {
    const long = world({ podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] });
    long.policies[0]!.metadata!.name = "n".repeat(253);
    const comments = compilePodFirewall(long, server, options).restore.match(/--comment "[^"]*"/g) ?? [];
    expect(comments.length).toBeGreaterThan(0);
    for (const text of comments) expect(text.length - '--comment ""'.length).toBeLessThanOrEqual(255);
  });
});
