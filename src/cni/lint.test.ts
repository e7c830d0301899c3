import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.ts";
import { plan } from "../ipam/planner.ts";
import { conflistText, renderConflist } from "./conflist.ts";
import { lintCniConfig } from "./lint.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../../test/fixtures/lint/${name}`, import.meta.url), "utf8");
const seed = parseSpec(readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8"));
const seedPlan = plan(seed);
const rendered = (name = "node1") =>
  JSON.parse(
    conflistText(
      renderConflist(
        seed,
        seedPlan.nodes.find((n) => n.name === name)!,
      ),
    ),
  );

function lint(config: unknown, fileName = "10-test.conflist", withPlan = false) {
  return lintCniConfig(JSON.stringify(config), fileName, withPlan ? seedPlan : undefined);
}

describe("lintCniConfig", () => {
  it("finds nothing wrong with what render produces, with or without the plan", () => {
    for (const name of ["node1", "node2", "node3"]) {
      expect(lint(rendered(name))).toEqual([]);
      expect(lint(rendered(name), "x.conflist", true)).toEqual([]);
    }
  });

  it("reports the seed's original config (route only to 10.224.0.0/16) with a fix", () => {
    const findings = lintCniConfig(fixture("seed-original.conflist"), "seed-original.conflist", seedPlan);
    expect(findings).toEqual([
      expect.objectContaining({
        severity: "error",
        path: "plugins[0].ipam.dataDir",
        fix: expect.stringContaining("/run/aks-ipvlan/ipam"),
      }),
      expect.objectContaining({
        severity: "error",
        path: "plugins[0].ipam.routes",
        message: expect.stringContaining("no default route"),
        fix: expect.stringContaining('"dst": "0.0.0.0/0"'),
      }),
      expect.objectContaining({
        severity: "warning",
        path: "plugins",
        message: expect.stringContaining("portmap"),
      }),
    ]);
  });

  it("reports the seed's original gateway 10.224.0.1 when the subnet is the node block", () => {
    const findings = lintCniConfig(
      fixture("seed-original-block-subnet.conf"),
      "seed-original-block-subnet.conf",
    );
    expect(findings.filter((f) => f.severity === "error").map((f) => f.path)).toEqual([
      "mode",
      "ipam.dataDir",
      "ipam.routes",
      "ipam.gateway",
    ]);
    expect(findings.find((f) => f.path === "ipam.gateway")).toMatchObject({
      value: "10.224.0.1",
      message: expect.stringContaining("outside the range's subnet 10.224.0.16/28"),
      fix: expect.stringContaining("remove"),
    });
  });

  it("names the line and column of invalid JSON", () => {
    expect(lintCniConfig(fixture("invalid.conflist"), "invalid.conflist")).toEqual([
      expect.objectContaining({
        severity: "error",
        message: expect.stringMatching(/^invalid JSON at line 6, column 5/),
      }),
    ]);
    expect(lintCniConfig('{"a": 1,}', "x.conf")[0]!.message).toMatch(/line 1, column 9/);
    expect(lintCniConfig("", "x.conf")[0]!.message).toMatch(/invalid JSON at line 1, column 1/);
  });

  it("checks the shape the file name promises", () => {
    expect(lint({ cniVersion: "1.0.0", name: "n", type: "ipvlan" }, "x.conflist")).toEqual([
      expect.objectContaining({
        severity: "error",
        path: "plugins",
        message: "a .conflist needs a plugins array",
      }),
    ]);
    expect(lint(rendered(), "x.conf")).toEqual([
      expect.objectContaining({ severity: "error", path: "plugins", fix: "rename the file to .conflist" }),
    ]);
    expect(lintCniConfig("[1]", "x.conf")).toEqual([
      expect.objectContaining({ severity: "error", path: "" }),
    ]);
    const unnamed = rendered();
    delete unnamed.name;
    expect(lint(unnamed)).toEqual([expect.objectContaining({ severity: "error", path: "name" })]);
  });

  it.each(["l2", "l3"])("refuses ipvlan mode %s", (mode) => {
    const config = rendered();
    config.plugins[0].mode = mode;
    expect(lint(config)).toEqual([
      expect.objectContaining({
        severity: "error",
        path: "plugins[0].mode",
        value: mode,
        fix: 'set "mode": "l3s"',
      }),
    ]);
  });

  it("refuses a range without subnet, and addresses outside the subnet", () => {
    const config = rendered();
    delete config.plugins[0].ipam.ranges[0][0].subnet;
    expect(lint(config)).toEqual([
      expect.objectContaining({ severity: "error", path: "plugins[0].ipam.ranges[0][0].subnet" }),
    ]);
    const outside = rendered();
    outside.plugins[0].ipam.ranges[0][0].subnet = "10.224.0.16/28";
    expect(lint(outside).map((f) => f.path)).toEqual(["plugins[0].ipam.ranges[0][0].gateway"]);
    outside.plugins[0].ipam.ranges[0][0].rangeEnd = "10.224.1.0";
    expect(lint(outside).map((f) => f.path)).toEqual([
      "plugins[0].ipam.ranges[0][0].rangeEnd",
      "plugins[0].ipam.ranges[0][0].gateway",
    ]);
  });

  it.each([
    ["/var/lib/cni/networks", "error"],
    ["/opt/ipam", "error"],
    ["/run/x", "ok"],
    ["/var/run/cni", "ok"],
    ["/dev/shm/ipam", "ok"],
    ["/running", "error"],
  ])("judges the IPAM data directory %s: %s", (dataDir, verdict) => {
    const config = rendered();
    config.plugins[0].ipam.dataDir = dataDir;
    const findings = lint(config).filter((f) => f.path === "plugins[0].ipam.dataDir");
    expect(findings.length).toBe(verdict === "ok" ? 0 : 1);
  });

  it("with the plan, refuses a range holding node IPs or several nodes' blocks", () => {
    const config = rendered();
    config.plugins[0].ipam.ranges[0][0].rangeStart = "10.224.0.2";
    config.plugins[0].ipam.ranges[0][0].rangeEnd = "10.224.0.40";
    const findings = lint(config, "x.conflist", true);
    expect(findings.map((f) => f.message)).toEqual([
      expect.stringContaining("contains the IP of node node1 (10.224.0.4)"),
      expect.stringContaining("contains the IP of node node2"),
      expect.stringContaining("contains the IP of node node3"),
      expect.stringContaining("overlaps the blocks of 2 nodes (node1, node2)"),
    ]);
    expect(new Set(findings.map((f) => f.path))).toEqual(new Set(["plugins[0].ipam.ranges[0][0]"]));
    // Negative control: the same file without the plan has nothing to compare against.
    expect(lint(config)).toEqual([]);
  });

  it("with the plan, warns about a range outside every planned block", () => {
    const config = rendered();
    Object.assign(config.plugins[0].ipam.ranges[0][0], {
      rangeStart: "10.224.9.16",
      rangeEnd: "10.224.9.31",
    });
    expect(lint(config, "x.conflist", true)).toEqual([
      expect.objectContaining({
        severity: "warning",
        message: expect.stringContaining("not inside any planned node block"),
      }),
    ]);
  });

  it("warns when portmap is not chained", () => {
    const config = rendered();
    config.plugins.pop();
    expect(lint(config)).toEqual([expect.objectContaining({ severity: "warning", path: "plugins" })]);
  });
});
