import { describe, expect, it } from "vitest";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseSpec } from "../spec/load.ts";
import { plan } from "../ipam/planner.ts";
import { backend } from "../iptables/backend.ts";
import { REQUIRED_PLUGINS } from "../cni/conflist.ts";
import { desiredNode, type AgentPaths } from "./desired.ts";
import { reconcile } from "./reconcile.ts";
import { fakeRunner } from "../../test/fakes/runner.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";

const spec = parseSpec(readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8"));
const node1 = plan(spec).nodes[0]!;

async function node(plugins: readonly string[] = REQUIRED_PLUGINS) {
  const root = await tempDir("agent-");
  const paths: AgentPaths = {
    cniConfDir: join(root, "net.d"),
    cniBinDir: join(root, "bin"),
    ipamDataDir: join(root, "ipam"),
  };
  await mkdir(paths.cniBinDir);
  for (const plugin of plugins)
    await writeFile(join(paths.cniBinDir, plugin), "#!/bin/true\n", { mode: 0o755 });
  const procSys = join(root, "proc");
  await mkdir(join(procSys, "net/ipv4"), { recursive: true });
  await writeFile(join(procSys, "net/ipv4/ip_forward"), "0\n");
  const runner = fakeRunner()
    .on("iptables-legacy-save", { stdout: "" })
    .on("iptables-legacy-restore", {})
    .on("ip -json -details link show", { stdout: JSON.stringify([{ ifname: "eth0", flags: ["UP"] }]) })
    .on("ip -json -4 route", { stdout: "[]" })
    .on("ip -batch -", {});
  const deps = { runner: runner.run, backend: backend("legacy"), leakGraceSeconds: 300, procSys };
  return { paths, procSys, runner, deps, desired: desiredNode(spec, node1, paths) };
}

describe("reconcile", () => {
  it("applies host path, sysctls, rules and then the conflist, and reports each repair", async () => {
    const { paths, procSys, runner, deps, desired } = await node();
    const report = await reconcile(desired, paths, deps);
    expect(report.repairs.map((r) => r.kind)).toEqual([
      "host-device-missing",
      "host-route-missing",
      "sysctl",
      "chain-missing",
      "chain-missing",
      "chain-missing",
      "jump-missing",
      "jump-missing",
      "conflist-written",
    ]);
    expect(report.problems).toEqual([]);
    expect(await readFile(join(procSys, "net/ipv4/ip_forward"), "utf8")).toBe("1\n");
    const file = join(paths.cniConfDir, "10-aks-ipvlan.conflist");
    expect(JSON.parse(await readFile(file, "utf8")).plugins[0].ipam.dataDir).toBe(paths.ipamDataDir);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect(runner.calls.map((c) => c.file)).toEqual([
      "ip",
      "ip",
      "ip",
      "iptables-legacy-save",
      "iptables-legacy-restore",
    ]);
    expect(report.addresses).toEqual({ inUse: 0, capacity: 16, released: [], gc: "off" });
  });

  it("in vxlan mode programs the overlay after the host device, from the peers it is given", async () => {
    const { paths, runner, deps } = await node();
    runner.on("bridge -batch -", {}).on("ip -json -4 rule show", { stdout: "[]" });
    const vxlan = parseSpec(
      `${readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8")}podPool: [10.241.0.0/16]\nrouting: {mode: vxlan}\n`,
    );
    const planned = plan(vxlan);
    const peers = planned.nodes.map((n) => ({ name: n.name, ip: n.ip, blocks: n.blocks.map((b) => b.cidr) }));
    const report = await reconcile(desiredNode(vxlan, planned.nodes[0]!, paths, peers), paths, deps);
    expect(report.overlay).toEqual({ device: "vxlan-aks", peers: 2, mtu: 1450 });
    expect(report.repairs.filter((r) => r.kind.startsWith("overlay-"))).toEqual([
      { kind: "overlay-device-missing", count: 1, detail: "vxlan-aks" },
      { kind: "overlay-fdb-missing", count: 2, detail: expect.stringContaining("→ 10.224.0.5") },
      { kind: "overlay-neighbour-missing", count: 2, detail: "10.224.0.5, 10.224.0.6" },
      {
        kind: "overlay-route-missing",
        count: 2,
        detail: "10.241.0.32/28 via 10.224.0.5, 10.241.0.48/28 via 10.224.0.6",
      },
      { kind: "overlay-peer-route-missing", count: 2, detail: "10.224.0.5/32, 10.224.0.6/32" },
      { kind: "overlay-rule-missing", count: 1, detail: "from 10.241.0.0/16" },
    ]);
    const batches = runner.calls.filter((c) => c.args.includes("-batch"));
    expect(batches.map((c) => c.file)).toEqual(["ip", "ip", "bridge"]);
    expect(batches[1]!.input).toMatch(
      /^link add vxlan-aks type vxlan id 4096 dstport 4789 local 10.224.0.4 dev eth0/,
    );
    const restore = runner.calls.find((c) => c.file === "iptables-legacy-restore")!.input!;
    expect(restore).toContain("-A AKS-IPVLAN-TUNNEL -s 10.241.0.16/28 -d 10.241.0.0/16");
  });

  it("rewrites a conflist only when its content differs", async () => {
    const { paths, deps, desired } = await node();
    await reconcile(desired, paths, deps);
    const again = await reconcile(desired, paths, deps);
    expect(again.repairs.map((r) => r.kind)).not.toContain("conflist-written");
    await writeFile(join(paths.cniConfDir, "10-aks-ipvlan.conflist"), "{broken");
    const repaired = await reconcile(desired, paths, deps);
    expect(repaired.repairs.map((r) => r.kind)).toContain("conflist-written");
  });

  it("reports a missing CNI plugin as a problem", async () => {
    const { paths, deps, desired } = await node(["ipvlan", "host-local"]);
    const report = await reconcile(desired, paths, deps);
    expect(report.problems).toEqual([`missing CNI plugin portmap in ${paths.cniBinDir}`]);
  });

  it("names the failing step and writes no conflist when the datapath could not be set up", async () => {
    const { paths, deps, desired } = await node();
    const failing = {
      ...deps,
      runner: fakeRunner()
        .on("ip -json -details link show", {
          stdout: JSON.stringify([
            { ifname: "eth0" },
            { ifname: "pod0", link: "eth0", linkinfo: { info_kind: "ipvlan", info_data: { mode: "l2" } } },
          ]),
        })
        .on("ip -json -4 route", { stdout: "[]" }).run,
    };
    await expect(reconcile(desired, paths, failing)).rejects.toThrow(/^host device: refusing to touch eth0/);
    await expect(stat(join(paths.cniConfDir, "10-aks-ipvlan.conflist"))).rejects.toThrow(/ENOENT/);
  });

  it("on a kernel without ipvlan, names the module and changes nothing (ip_forward, rules, conflist)", async () => {
    const { paths, procSys, deps, desired } = await node();
    const runner = fakeRunner()
      .on("ip -json -details link show", { stdout: JSON.stringify([{ ifname: "eth0", flags: ["UP"] }]) })
      .on("ip -json -4 route", { stdout: "[]" })
      // What iproute2 prints when the kernel has no ipvlan link type (measured on this host's kernel).
      .on("ip -batch -", { code: 2, stderr: "Error: Unknown device type.\nCommand failed -:1\n" });
    await expect(reconcile(desired, paths, { ...deps, runner: runner.run })).rejects.toThrow(
      /^host device: the kernel has no ipvlan support \(kernel module `ipvlan`/,
    );
    expect(await readFile(join(procSys, "net/ipv4/ip_forward"), "utf8")).toBe("0\n");
    expect(runner.calls.map((c) => c.file)).not.toContain("iptables-legacy-restore");
    await expect(stat(join(paths.cniConfDir, "10-aks-ipvlan.conflist"))).rejects.toThrow(/ENOENT/);
  });

  it("reports a network config that sorts before ours as shadowing it", async () => {
    const { paths, deps, desired } = await node();
    const clean = await reconcile(desired, paths, deps);
    expect(clean.shadowedBy).toBeUndefined();
    await writeFile(join(paths.cniConfDir, "05-cilium.conflist"), "{}");
    const report = await reconcile(desired, paths, deps);
    expect(report.shadowedBy).toBe("05-cilium.conflist");
    expect(report.problems).toEqual([expect.stringContaining("05-cilium.conflist")]);
    // A later name is no threat: the runtime takes the first by name.
    const later = await node();
    await mkdir(later.paths.cniConfDir, { recursive: true });
    await writeFile(join(later.paths.cniConfDir, "99-loopback.conf"), "{}");
    expect((await reconcile(later.desired, later.paths, later.deps)).problems).toEqual([]);
  });

  it("releases leaked addresses only when it knows the live pods", async () => {
    const { paths, deps, desired } = await node();
    const dir = join(paths.ipamDataDir, "aks-ipvlan");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "10.224.0.17"), "live\r\neth0");
    await writeFile(join(dir, "10.224.0.18"), "gone\r\neth0");
    const later = () => Date.now() + 301_000;
    const blind = await reconcile(desired, paths, { ...deps, now: later });
    expect(blind.addresses).toMatchObject({ inUse: 2, released: [], gc: "off" });
    const livePods = { podIps: async () => new Set(["10.224.0.17"]) };
    const report = await reconcile(desired, paths, { ...deps, now: later, livePods });
    expect(report.addresses).toMatchObject({ inUse: 1, released: ["10.224.0.18"], gc: "on" });
    expect(report.repairs).toContainEqual({ kind: "address-released", detail: "10.224.0.18" });
  });
});
