import { comment } from "./comment.ts";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.ts";
import { plan } from "../ipam/planner.ts";
import { renderNodeRules } from "./rules.ts";
import { MASQ_CHAIN, POSTROUTING_CHAIN } from "./masquerade.ts";
import { OUTPUT_CHAIN } from "./azure-endpoints.ts";
import { TUNNEL_CHAIN } from "./tunnel.ts";

const seedText = readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8");
const seed = parseSpec(seedText);
const golden = (name: string) =>
  readFileSync(new URL(`../../test/fixtures/golden/${name}`, import.meta.url), "utf8");

describe("renderNodeRules", () => {
  it.each(["node1", "node2", "node3"])("renders the golden restore payload of the seed's %s", (name) => {
    const node = plan(seed).nodes.find((candidate) => candidate.name === name)!;
    expect(renderNodeRules(seed, node).chains).toBe(golden(`seed-${name}.rules`));
  });

  it("declares only its own chains, so --noflush leaves every other chain alone", () => {
    const rules = renderNodeRules(seed, plan(seed).nodes[0]!);
    const declared = rules.chains.split("\n").filter((line) => line.startsWith(":"));
    expect(declared).toEqual([
      `:${OUTPUT_CHAIN} - [0:0]`,
      `:${POSTROUTING_CHAIN} - [0:0]`,
      `:${MASQ_CHAIN} - [0:0]`,
    ]);
    expect(rules.chains).not.toMatch(/^-A (POSTROUTING|OUTPUT|PREROUTING|FORWARD|INPUT) /m);
    expect(rules.owned).toEqual({ nat: [POSTROUTING_CHAIN, MASQ_CHAIN], filter: [OUTPUT_CHAIN] });
    expect(rules.jumps.map((jump) => [jump.table, jump.chain, jump.position, jump.spec.at(-1)])).toEqual([
      ["filter", "OUTPUT", "first", OUTPUT_CHAIN],
      ["nat", "POSTROUTING", "last", POSTROUTING_CHAIN],
    ]);
  });

  it("follows the masquerade options", () => {
    const spec = parseSpec(
      `${seedText}masquerade: {randomFully: false, masqLinkLocal: true, nonMasqueradeCIDRs: [10.0.0.0/8]}\nmetadataAccess: {imds: allow}\n`,
    );
    const chains = renderNodeRules(spec, plan(spec).nodes[0]!).chains;
    expect(chains).toMatch(/-j MASQUERADE$/m);
    expect(chains).not.toContain("--random-fully");
    expect(chains).not.toContain("169.254.0.0/16");
    expect(chains).toContain(`-A ${MASQ_CHAIN} -d 10.0.0.0/8 `);
    expect(chains).not.toContain("-d 10.224.0.0/16");
    expect(chains).not.toContain("169.254.169.254");
    // The wireserver stays closed whatever the options say.
    expect(chains).toMatch(/-d 168\.63\.129\.16\/32 -p tcp -m multiport --dports 80,32526 .* -j REJECT/);
  });
});

describe("renderNodeRules in vxlan mode", () => {
  const spec = parseSpec(`${seedText}podPool: [10.241.0.0/16]\nrouting: {mode: vxlan}\n`);
  const node = plan(spec).nodes[0]!;
  const rules = renderNodeRules(spec, node);

  it("masquerades pod traffic to the VNet and other nodes' IPs, not to the pool or its own node", () => {
    const keep = rules.chains
      .split("\n")
      .filter((line) => line.startsWith(`-A ${MASQ_CHAIN}`) && line.endsWith("-j RETURN"))
      .map((line) => line.split(" ")[3]);
    expect(keep).toEqual(["10.241.0.0/16", `${node.ip}/32`, "169.254.0.0/16"]);
    // Negative control: vnet mode keeps the node subnet.
    const vnet = renderNodeRules(parseSpec(`${seedText}podPool: [10.241.0.0/16]\n`), node).chains;
    expect(vnet).toContain(`-A ${MASQ_CHAIN} -d 10.224.0.0/16 `);
    expect(rules.chains).not.toContain(`-A ${MASQ_CHAIN} -d 10.224.0.0/16 `);
    expect(vnet).not.toContain("*mangle");
  });

  it("marks the node's pod traffic to the pool in mangle OUTPUT, in a chain cleanup knows", () => {
    expect(rules.chains).toContain(
      `-A ${TUNNEL_CHAIN} -s ${node.blocks[0]!.cidr} -d 10.241.0.0/16 -m comment --comment "aks-ipvlan: route pod traffic to other nodes again so it takes the overlay" -j MARK --set-xmark 0x1000000/0x1000000`,
    );
    // Other nodes' IPs too: a pod's reply to one of them must take the tunnel (src/overlay/desired.ts).
    expect(rules.chains).toContain(`-A ${TUNNEL_CHAIN} -s ${node.blocks[0]!.cidr} -d 10.224.0.0/16 `);
    expect(rules.owned.mangle).toEqual([TUNNEL_CHAIN]);
    expect(rules.jumps.at(-1)).toMatchObject({ table: "mangle", chain: "OUTPUT" });
  });
});

describe("comment", () => {
  it("refuses text that iptables-save prints escaped, which would never read back equal", () => {
    expect(comment("pods of the node")).toEqual([
      "-m",
      "comment",
      "--comment",
      '"aks-ipvlan: pods of the node"',
    ]);
    for (const text of ["the node's pods", 'a "quoted" word', "back\\slash"])
      expect(() => comment(text), text).toThrow(/quotes or backslashes/);
  });
});
