// lint and the reference plugins cannot drift apart: every config lint says "host-local refuses" is
// run through the real host-local (containernetworking-plugins, /usr/lib/cni) with CNI_COMMAND=ADD.
// host-local parses and validates its whole config before it allocates, and never enters the netns,
// so this needs no guest (scripts/setup-host.sh installs the plugins); the control (the same config, fixed) must be accepted and get an address.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lintCniConfig } from "../../src/cni/lint.ts";
import { NetConfListSchema, type PluginConf } from "../../src/cni/schema.ts";
import { PLUGIN_CNI_VERSIONS, SPEC_CNI_VERSIONS } from "../../src/spec/limits.ts";
import { tempDirSync } from "../fakes/temp-dir.ts";
import { LINT_CASES, conflistWith } from "./cases.ts";

const PLUGINS = "/usr/lib/cni";
const scratch = tempDirSync("aks-ipvlan-plugins-");
let container = 0;

/** Runs the conflist's first plugin's IPAM (host-local) as libcni would delegate to it. */
function hostLocalAdd(text: string): { code: number | null; stdout: string } {
  const conflist = JSON.parse(text) as { cniVersion: string; name: string; plugins: PluginConf[] };
  const ipvlan = conflist.plugins[0]!;
  const config = {
    cniVersion: conflist.cniVersion,
    name: conflist.name,
    type: "host-local",
    ipam: { ...ipvlan.ipam, dataDir: join(scratch, `data-${container}`) },
  };
  const result = spawnSync(join(PLUGINS, "host-local"), [], {
    input: JSON.stringify(config),
    encoding: "utf8",
    env: {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: `faults-${container++}`,
      CNI_NETNS: "/nonexistent/netns",
      CNI_IFNAME: "eth0",
      CNI_PATH: PLUGINS,
    },
  });
  return { code: result.status, stdout: result.stdout };
}

/** The cases whose message says the plugin refuses them, with what host-local answers. */
const REFUSED_BY_HOST_LOCAL: Array<[string, RegExp]> = [
  ["subnet with host bits", /Network has host bits set/],
  ["rangeStart after rangeEnd", /RangeStart 10\.224\.0\.31 not in network/],
  ["a /32 subnet", /too small to allocate from/],
  ["a /31 subnet", /too small to allocate from/],
  ["cniVersion 9.9.9", /incompatible CNI versions/],
  ["cniVersion 1.1.0", /incompatible CNI versions/],
  ["rangeStart outside the subnet", /RangeStart 10\.225\.0\.1 not in network/],
  ["rangeEnd outside the subnet", /RangeEnd 10\.225\.0\.1 not in network/],
  ["overlapping ranges in a set", /overlap/],
  ["overlapping range sets", /overlaps with/],
  ["no ranges", /no IP ranges specified/],
  ["a range without subnet", /not v4 nor v6|invalid CIDR/],
  ["a subnet that is not one", /invalid CIDR address: banana/],
];

describe("lint agrees with the real host-local", () => {
  it("accepts the control: a valid config gets an address, and lint finds no error in it", () => {
    const text = conflistWith();
    expect(lintCniConfig(text, "10-x.conflist").filter((f) => f.severity === "error")).toEqual([]);
    const result = hostLocalAdd(text);
    expect(result.code, result.stdout).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ips: [{ address: "10.224.0.16/16" }] });
  });

  it.each(REFUSED_BY_HOST_LOCAL)("%s: an error finding, and host-local refuses it too", (name, answer) => {
    const c = LINT_CASES.find((candidate) => candidate.name === name)!;
    expect(c, name).toBeDefined();
    const findings = lintCniConfig(c.text, c.file).filter((f) => f.severity === "error");
    expect(findings.map((f) => f.path)).toContain(c.field);
    const result = hostLocalAdd(c.text);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).msg + (JSON.parse(result.stdout).details ?? "")).toMatch(answer);
  });

  it("every lint case that names host-local as the judge is in the table above", () => {
    const claimed = LINT_CASES.filter((c) =>
      lintCniConfig(c.text, c.file).some((f) => /host-local refuses|plugins refuse/.test(f.message)),
    ).map((c) => c.name);
    expect(claimed.filter((name) => !REFUSED_BY_HOST_LOCAL.some(([known]) => known === name))).toEqual([]);
  });

  it("a conflist without plugins is refused by the runtime's parse (libcni: no plugins in list)", () => {
    const parsed = NetConfListSchema.safeParse({ cniVersion: "1.0.0", name: "n", plugins: [] });
    expect(parsed.success).toBe(false);
  });
});

/** A plugin run with `config` on stdin and CNI_COMMAND `command`. */
function plugin(name: string, command: string, config: string) {
  const result = spawnSync(join(PLUGINS, name), [], {
    input: config,
    encoding: "utf8",
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: `faults-${container++}`,
      CNI_NETNS: "/nonexistent/netns",
      CNI_IFNAME: "eth0",
      CNI_PATH: PLUGINS,
    },
  });
  return { code: result.status, stdout: result.stdout };
}

describe("the spec and lint agree with the plugins that ship (CNI_COMMAND=VERSION)", () => {
  it.each(["ipvlan", "host-local", "portmap"])("%s accepts exactly what lint accepts", (name) => {
    const answer = JSON.parse(plugin(name, "VERSION", "{}").stdout) as { supportedVersions: string[] };
    expect(answer.supportedVersions).toEqual([...PLUGIN_CNI_VERSIONS]);
    for (const version of SPEC_CNI_VERSIONS) expect(answer.supportedVersions).toContain(version);
    // Negative control: the version the issue saw accepted is not among them, and lint refuses it.
    expect(answer.supportedVersions).not.toContain("1.1.0");
    const findings = lintCniConfig(conflistWith(undefined, { cniVersion: "1.1.0" }), "10-x.conflist");
    expect(findings.map((f) => f.path)).toContain("cniVersion");
  });
});

describe("lint reads keys as the Go plugins do", () => {
  it("host-local uses the later of routes/Routes, and lint judges that one", () => {
    const c = LINT_CASES.find((candidate) => candidate.name === "routes, then Routes")!;
    const config = JSON.parse(c.text) as { plugins: Array<{ ipam: Record<string, unknown> }> };
    // Both keys, in this order, are what host-local gets (JSON.stringify of a JS object could not say it).
    const raw = `{"cniVersion":"1.0.0","name":"aks-ipvlan","type":"host-local","ipam":{"type":"host-local","dataDir":${JSON.stringify(join(scratch, `data-${container}`))},"ranges":${JSON.stringify(config.plugins[0]!.ipam.ranges)},"routes":[{"dst":"0.0.0.0/0"}],"Routes":[{"dst":"10.0.0.0/8"}]}}`;
    const result = plugin("host-local", "ADD", raw);
    expect(result.code, result.stdout).toBe(0);
    expect(JSON.parse(result.stdout).routes).toEqual([{ dst: "10.0.0.0/8" }]);
    expect(lintCniConfig(c.text, c.file).map((f) => f.path)).toContain("plugins[0].ipam.routes");
  });

  it("portmap refuses nesting deeper than 10,000, as lint does", () => {
    const c = LINT_CASES.find((candidate) => candidate.name === "100,000 nested arrays")!;
    const conf = `{"cniVersion":"1.0.0","name":"n","type":"portmap","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const result = plugin("portmap", "ADD", conf);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toMatch(/exceeded max depth/);
    expect(
      lintCniConfig(c.text, c.file).some((f) => f.severity === "error" && /nested deeper/.test(f.message)),
    ).toBe(true);
    // Negative control: 100 levels pass both.
    const shallow = `{"cniVersion":"1.0.0","name":"n","type":"portmap","x":${"[".repeat(100)}${"]".repeat(100)}}`;
    expect(plugin("portmap", "ADD", shallow).stdout).not.toMatch(/exceeded max depth/);
  });
});
