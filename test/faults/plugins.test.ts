// lint and the reference plugins cannot drift apart: every config lint says "host-local refuses" is
// run through the real host-local (containernetworking-plugins, /usr/lib/cni) with CNI_COMMAND=ADD.
// host-local parses and validates its whole config before it allocates, and never enters the netns,
// so this needs no guest (scripts/setup-host.sh installs the plugins); the control (the same config, fixed) must be accepted and get an address.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lintCniConfig } from "../../src/cni/lint.ts";
import { NetConfListSchema, type PluginConf } from "../../src/cni/schema.ts";
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
