import { describe, expect, it } from "vitest";
import { loadSpec, parseSpec } from "./load.ts";
import { UserError, formatFinding } from "../errors/user-error.ts";

async function findings(action: () => unknown) {
  try {
    await action();
  } catch (error) {
    if (error instanceof UserError) return error.findings;
    throw error;
  }
  throw new Error("expected a UserError");
}

const BASE = "nodeSubnet: 10.224.0.0/16\n";

describe("parseSpec defaults", () => {
  it("fills in the seed's layout", () => {
    const spec = parseSpec(BASE);
    expect(spec).toMatchObject({
      podPool: ["10.224.0.0/16"],
      blockSize: 28,
      masterInterface: "eth0",
      mode: "l3s",
      cniVersion: "1.0.0",
      masquerade: { nonMasqueradeCIDRs: ["10.224.0.0/16"], randomFully: true, masqLinkLocal: false },
      metadataAccess: { imds: "block" },
      nodes: [],
      reserved: [],
    });
  });

  it("does not masquerade to the node subnet or the pod pool by default", () => {
    const spec = parseSpec(`${BASE}podPool: [10.241.0.0/16]\n`);
    expect(spec.masquerade.nonMasqueradeCIDRs).toEqual(["10.224.0.0/16", "10.241.0.0/16"]);
  });
});

describe("bad specs: each problem names its path, value and fix", () => {
  it.each([
    ["invalid YAML", "nodeSubnet: [10.224.0.0/16\n", "spec", /invalid YAML: .*line 2, column 1/],
    ["a missing nodeSubnet", "blockSize: 28\n", "nodeSubnet", /expected string/],
    ["a CIDR with host bits", "nodeSubnet: 10.224.0.1/16\n", "nodeSubnet", /the network is 10.224.0.0\/16/],
    ["a CIDR that is not one", `${BASE}podPool: [10.241.0.0]\n`, "podPool[0]", /not an IPv4 CIDR/],
    [
      "a node IP that is not an address",
      `${BASE}nodes: [{name: a, ip: 10.224.0}]\n`,
      "nodes[0].ip",
      /not an IPv4 address/,
    ],
    [
      "a node IP outside the node subnet",
      `${BASE}nodes: [{name: a, ip: 10.225.0.4}]\n`,
      "nodes[0].ip",
      /outside nodeSubnet/,
    ],
    ["a bad node name", `${BASE}nodes: [{name: Node_1, ip: 10.224.0.4}]\n`, "nodes[0].name", /node name/],
    [
      "a duplicate node name",
      `${BASE}nodes: [{name: a, ip: 10.224.0.4}, {name: a, ip: 10.224.0.5}]\n`,
      "nodes[1].name",
      /duplicate node name \(also nodes\[0\]\)/,
    ],
    [
      "a duplicate node IP",
      `${BASE}nodes: [{name: a, ip: 10.224.0.4}, {name: b, ip: 10.224.0.4}]\n`,
      "nodes[1].ip",
      /duplicate node ip/,
    ],
    [
      "a pinned block with host bits",
      `${BASE}nodes: [{name: a, ip: 10.224.0.4, block: 10.224.0.17/28}]\n`,
      "nodes[0].block",
      /host bits/,
    ],
    ["mode l2", `${BASE}mode: l2\n`, "mode", /only ipvlan mode l3s is supported/],
    ["mode l3", `${BASE}mode: l3\n`, "mode", /l3 skips netfilter/],
    ["a block larger than /16", `${BASE}blockSize: 12\n`, "blockSize", /larger than \/16/],
    ["a block smaller than 4 addresses", `${BASE}blockSize: 31\n`, "blockSize", /at least 4 addresses/],
    ["an unknown CNI version", `${BASE}cniVersion: 0.3.1\n`, "cniVersion", /unsupported CNI version/],
    ["a bad interface name", `${BASE}masterInterface: "eth 0"\n`, "masterInterface", /interface name/],
    ["an unknown field", `${BASE}podPools: [10.241.0.0/16]\n`, "", /Unrecognized key/],
    [
      "an unknown IMDS policy",
      `${BASE}metadataAccess: {imds: open}\n`,
      "metadataAccess.imds",
      /Invalid option/,
    ],
    ["a bad reserved entry", `${BASE}reserved: [10.224.0.300]\n`, "reserved[0]", /not an IPv4 address/],
    [
      "a bad listen address",
      `${BASE}agent: {listenAddress: localhost}\n`,
      "agent.listenAddress",
      /address and port/,
    ],
    [
      "a cluster name too long for Azure route names",
      `${BASE}name: ${"a".repeat(51)}\n`,
      "name",
      /cluster name/,
    ],
    ["a non-integer maxPodsPerNode", `${BASE}maxPodsPerNode: 1.5\n`, "maxPodsPerNode", /expected int/],
  ])("reports %s", async (_name, text, path, message) => {
    const problems = await findings(() => parseSpec(text));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe(path);
    expect(problems[0]!.message).toMatch(message);
    expect(problems[0]!.fix.length).toBeGreaterThan(10);
  });

  it("reports every problem at once", async () => {
    const problems = await findings(() =>
      parseSpec("nodeSubnet: 10.224.0.1/16\nmode: l2\nblockSize: 40\nextra: 1\n"),
    );
    expect(problems.map((problem) => problem.path).sort()).toEqual(["", "blockSize", "mode", "nodeSubnet"]);
  });

  it("formats a finding with its value and fix", () => {
    expect(formatFinding({ path: "mode", value: "l2", message: "only l3s", fix: "set l3s" })).toBe(
      'mode: only l3s (got "l2")\n  fix: set l3s',
    );
  });

  it("names the file it cannot read", async () => {
    const problems = await findings(() => loadSpec("/nonexistent/cluster.yaml"));
    expect(problems).toEqual([
      expect.objectContaining({
        path: "--config",
        value: "/nonexistent/cluster.yaml",
        message: expect.stringContaining("ENOENT"),
      }),
    ]);
  });
});
