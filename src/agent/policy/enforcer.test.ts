import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fakeRunner, type FakeRunner } from "../../../test/fakes/runner.ts";
import { tempDir } from "../../../test/fakes/temp-dir.ts";
import { backend } from "../../iptables/backend.ts";
import type { NetworkPolicy, PolicyPod, PolicyWorld } from "../../policy/model.ts";
import { MetricsRegistry } from "../../sys/metrics.ts";
import { PolicyEnforcer } from "./enforcer.ts";
import { policyMetrics } from "./metrics.ts";
import { netnsLocator, parseAllNetnsAddresses } from "./netns.ts";

const pod = (
  name: string,
  ip: string,
  node = "n1",
  labels: Record<string, string> = { app: name },
): PolicyPod => ({
  namespace: "x",
  name,
  ip,
  node,
  labels,
  ports: [],
});
const denyIngress = (selector: Record<string, string>): NetworkPolicy => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name: `deny-${Object.values(selector).join("-") || "all"}`, namespace: "x" },
  spec: { podSelector: { matchLabels: selector }, policyTypes: ["Ingress"] },
});
const ADDRESSES = [
  "netns: cni-aaa",
  "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet 10.224.0.16/16 brd 10.224.255.255 scope global eth0\\       valid_lft forever",
  "",
  "netns: cni-bbb",
  "2: eth0    inet 10.224.0.17/16 brd 10.224.255.255 scope global eth0\\       valid_lft forever",
  "",
].join("\n");

function node(runner: FakeRunner, stateDir: string) {
  return new PolicyEnforcer({
    node: "n1",
    nodeIP: "10.224.0.4",
    runner: runner.run,
    backend: backend("legacy"),
    locator: netnsLocator(runner.run),
    podCIDRs: ["10.224.0.16/28"],
    stateDir,
  });
}

/** `failIn`: restores into this namespace fail, reported as `ip -batch` does (by line number). */
function fakeNode(failIn?: string): FakeRunner {
  return fakeRunner()
    .on("ip -all netns exec", { stdout: ADDRESSES })
    .on("ip -force -batch -", (call) => {
      const lines = call.input!.trim().split("\n");
      const failed = lines.flatMap((line, i) =>
        failIn && line.includes(` ${failIn} `)
          ? [`iptables-restore: line 3 failed`, `Command failed -:${i + 1}`]
          : [],
      );
      return { code: failed.length > 0 ? 1 : 0, stderr: failed.join("\n") };
    })
    .on("iptables-legacy-save", { stdout: "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n" })
    .on("iptables-legacy-restore", {});
}

/**
 * A fail-closed enforcer on n1 whose sandboxes are cni-aaa, cni-bbb (ADDRESSES) and `more` (name →
 * its `ip -o addr` line), pinned under a directory of its own.
 */
async function failClosedNode(dir: string, podCIDRs: string[], more: Record<string, string>) {
  const netnsDir = join(dir, "netns");
  await mkdir(netnsDir);
  for (const name of ["cni-aaa", "cni-bbb", ...Object.keys(more)]) await writeFile(join(netnsDir, name), "");
  const addresses = [
    ADDRESSES,
    ...Object.entries(more).flatMap(([name, line]) => [`netns: ${name}`, line, ""]),
  ];
  const runner = fakeRunner()
    .on("ip -all netns exec ip -4", { stdout: addresses.join("\n") })
    .on("ip -force -batch -", {})
    .on("iptables-legacy-save", { stdout: "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n" })
    .on("iptables-legacy-restore", {});
  const enforcer = new PolicyEnforcer({
    node: "n1",
    nodeIP: "10.224.0.4",
    runner: runner.run,
    backend: backend("legacy"),
    locator: netnsLocator(runner.run, netnsDir),
    podCIDRs,
    failClosed: true,
    stateDir: join(dir, "state"),
  });
  return { runner, enforcer };
}

/** a and b on n1, a isolated for ingress. */
const aIsolated = (): PolicyWorld => ({
  pods: [pod("a", "10.224.0.16"), pod("b", "10.224.0.17")],
  namespaces: [{ name: "x", labels: {} }],
  policies: [denyIngress({ app: "a" })],
});

const batchLines = (runner: FakeRunner) =>
  runner.calls
    .filter((call) => call.args.includes("-batch"))
    .flatMap((call) => call.input!.trim().split("\n"));

describe("finding a pod's network namespace by its IP", () => {
  it("reads every namespace's addresses, skipping loopback and pods on other nodes", () => {
    expect(parseAllNetnsAddresses(ADDRESSES)).toEqual(
      new Map([
        ["10.224.0.16", "cni-aaa"],
        ["10.224.0.17", "cni-bbb"],
      ]),
    );
  });

  it("scans again only when an IP is unknown", async () => {
    const runner = fakeNode();
    const locator = netnsLocator(runner.run);
    expect(await locator.locate(["10.224.0.16"])).toEqual(new Map([["10.224.0.16", "cni-aaa"]]));
    await locator.locate(["10.224.0.17"]);
    expect(runner.calls).toHaveLength(1);
    expect(await locator.locate(["10.224.0.99"])).toEqual(new Map());
    expect(runner.calls).toHaveLength(2);
  });
});

describe("the policy enforcer", () => {
  it("applies each local pod's rules in its own namespace, one restore per pod, and skips pods elsewhere", async () => {
    const runner = fakeNode();
    const dir = await tempDir("enforcer-");
    const world: PolicyWorld = {
      pods: [pod("a", "10.224.0.16"), pod("b", "10.224.0.17"), pod("c", "10.224.0.32", "n2")],
      namespaces: [{ name: "x", labels: {} }],
      policies: [denyIngress({ app: "a" })],
    };
    const report = await node(runner, dir).sync(world);
    expect(batchLines(runner)).toEqual([
      `netns exec cni-aaa iptables-legacy-restore --noflush --wait=5 ${join(dir, "cni-aaa.rules")}`,
      `netns exec cni-bbb iptables-legacy-restore --noflush --wait=5 ${join(dir, "cni-bbb.rules")}`,
    ]);
    const isolated = await readFile(join(dir, "cni-aaa.rules"), "utf8");
    expect(isolated).toMatch(/^\*filter\n/);
    expect(isolated).toMatch(/-A AKS-IPVLAN-INGRESS .*not allowed by policy.* -j REJECT/);
    // b is selected by nothing: its payload only removes our chains.
    expect(await readFile(join(dir, "cni-bbb.rules"), "utf8")).not.toMatch(/REJECT|DROP/);
    expect(report).toMatchObject({ enforcedPods: 1, unlocated: [], failed: [], nodeRulesApplied: true });
    expect(report.applied.map((outcome) => outcome.pod)).toEqual(["x/a", "x/b"]);
  });

  it("touches only the pods whose rules changed", async () => {
    const runner = fakeNode();
    const enforcer = node(runner, await tempDir("enforcer-"));
    const world = aIsolated();
    await enforcer.sync(world);
    runner.calls.length = 0;
    expect((await enforcer.sync(world)).applied).toEqual([]);
    expect(batchLines(runner)).toEqual([]);

    const report = await enforcer.sync({
      ...world,
      policies: [...world.policies, denyIngress({ app: "b" })],
    });
    expect(report.applied.map((outcome) => outcome.pod)).toEqual(["x/b"]);
    expect(batchLines(runner)).toHaveLength(1);
    expect(batchLines(runner)[0]).toMatch(/^netns exec cni-bbb /);
  });

  it("names the pod whose restore failed and retries it at the next sync", async () => {
    const dir = await tempDir("enforcer-");
    const failing = fakeNode("cni-bbb");
    const enforcer = node(failing, dir);
    const world: PolicyWorld = {
      pods: [pod("a", "10.224.0.16"), pod("b", "10.224.0.17")],
      namespaces: [{ name: "x", labels: {} }],
      policies: [denyIngress({})],
    };
    const report = await enforcer.sync(world);
    expect(report.applied.map((outcome) => outcome.pod)).toEqual(["x/a"]);
    expect(report.failed).toMatchObject([{ pod: "x/b", error: expect.stringMatching(/line 3 failed/) }]);
    failing.calls.length = 0;
    await enforcer.sync(world);
    expect(batchLines(failing)).toEqual([expect.stringMatching(/^netns exec cni-bbb /)]);
  });

  it("fail-closed: isolates the node's sandboxes that no known pod has, until their pod is known", async () => {
    const dir = await tempDir("enforcer-");
    const { runner, enforcer } = await failClosedNode(dir, ["10.224.0.16/28"], {
      "cni-new": "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
      elsewhere:
        "2: eth0    inet 10.224.1.5/16 brd 10.224.255.255 scope global eth0\\       valid_lft forever",
    });
    const world: PolicyWorld = {
      pods: [pod("a", "10.224.0.16")],
      namespaces: [{ name: "x", labels: {} }],
      policies: [],
    };
    const first = await enforcer.sync(world);
    // b's namespace has an address of the block but no pod yet; cni-new has none yet (CNI ADD runs).
    expect(first.isolated.sort()).toEqual(["cni-bbb", "cni-new"]);
    expect(first.applied.map((outcome) => outcome.pod)).toEqual(["x/a"]);
    expect(await readFile(join(dir, "state", "cni-new.rules"), "utf8")).toMatch(
      /-A AKS-IPVLAN-INGRESS .*isolated until policy is computed.* -j REJECT/,
    );
    // The node denies beyond it what goes to or comes from an unknown address of its block.
    const restored = runner.calls.find((call) => call.file === "iptables-legacy-restore")!.input!;
    expect(restored).toMatch(/-A AKS-IPVLAN-POD-INGRESS -d 10.224.0.16\/28 .*-j REJECT/);
    expect(restored).toMatch(/-A AKS-IPVLAN-POD-EGRESS -s 10.224.0.16\/28 .*-j REJECT/);

    expect((await enforcer.sync(world)).isolated).toEqual([]);
    const known = await enforcer.sync({ ...world, pods: [...world.pods, pod("b", "10.224.0.17")] });
    expect(known.applied.map((outcome) => outcome.pod)).toEqual(["x/b"]);
    expect(await readFile(join(dir, "state", "cni-bbb.rules"), "utf8")).not.toMatch(/REJECT/);
  });

  it("without fail-closed, an unknown sandbox is left alone (negative control)", async () => {
    const runner = fakeNode();
    const report = await node(runner, await tempDir("enforcer-")).sync({
      pods: [pod("a", "10.224.0.16")],
      namespaces: [{ name: "x", labels: {} }],
      policies: [],
    });
    expect(report.isolated).toEqual([]);
    expect(batchLines(runner)).toEqual([expect.stringMatching(/^netns exec cni-aaa /)]);
  });

  it("reports a local pod whose namespace is not there yet, and leaves it for the next sync", async () => {
    const runner = fakeNode();
    const report = await node(runner, await tempDir("enforcer-")).sync({
      pods: [pod("new", "10.224.0.20")],
      namespaces: [{ name: "x", labels: {} }],
      policies: [denyIngress({})],
    });
    expect(report).toMatchObject({ unlocated: ["x/new"], applied: [], failed: [] });
  });
});

describe("the policy enforcer follows the node's blocks", () => {
  it("judges same-node egress to a second block and, fail-closed, isolates new sandboxes in it", async () => {
    const dir = await tempDir("enforcer-");
    const { runner, enforcer } = await failClosedNode(dir, ["10.224.0.16/28"], {
      "cni-second":
        "2: eth0    inet 10.224.0.40/28 brd 10.224.0.47 scope global eth0\\       valid_lft forever",
    });
    const world: PolicyWorld = {
      pods: [pod("a", "10.224.0.16")],
      namespaces: [{ name: "x", labels: {} }],
      policies: [{ ...denyIngress({}), spec: { podSelector: {}, policyTypes: ["Egress"] } }],
    };
    const first = await enforcer.sync(world);
    // 10.224.0.40 is in no block of the node yet: neither judged nor isolated (negative control);
    // cni-bbb is, and no pod has its address yet.
    expect(first.isolated).toEqual(["cni-bbb"]);
    expect(await readFile(join(dir, "state", "cni-aaa.rules"), "utf8")).not.toContain("10.224.0.32/28");

    expect(enforcer.follow({ nodeIP: "10.224.0.4", podCIDRs: ["10.224.0.16/28", "10.224.0.32/28"] })).toBe(
      true,
    );
    const second = await enforcer.sync(world);
    expect(second.isolated).toEqual(["cni-second"]);
    expect(second.applied.map((outcome) => outcome.pod)).toEqual(["x/a"]);
    expect(await readFile(join(dir, "state", "cni-aaa.rules"), "utf8")).toMatch(
      /-A AKS-IPVLAN-EGRESS -d 10.224.0.32\/28 .*egress not allowed by policy.* -j REJECT/,
    );
    const restores = runner.calls.filter((call) => call.file === "iptables-legacy-restore");
    expect(restores.at(-1)!.input).toMatch(/-A AKS-IPVLAN-POD-INGRESS -d 10.224.0.32\/28 .*-j REJECT/);
    expect(enforcer.follow({ nodeIP: "10.224.0.4", podCIDRs: ["10.224.0.16/28", "10.224.0.32/28"] })).toBe(
      false,
    );
  });
});

describe("the policy enforcer repairs drift at a resync", () => {
  /** A node whose kernel keeps what was restored: per pod namespace, and the node's filter table. */
  function kernel() {
    const namespaces = new Map<string, string>();
    let node = "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
    const runner = fakeRunner()
      .on("ip -all netns exec ip -4", { stdout: ADDRESSES })
      .on("ip -all netns exec iptables-legacy-save -t filter", () => ({
        stdout: ["cni-aaa", "cni-bbb"]
          .map((name) => `netns: ${name}\n${namespaces.get(name) ?? ""}`)
          .join("\n"),
      }))
      .on("ip -force -batch -", (call) => {
        for (const line of call.input!.trim().split("\n")) {
          const [, netns, file] = /^netns exec (\S+) \S+ --noflush --wait=5 (\S+)$/.exec(line)!;
          namespaces.set(netns!, readFileSync(file!, "utf8"));
        }
        return {};
      })
      .on("iptables-legacy-save", () => ({ stdout: node }))
      .on("iptables-legacy-restore", (call) => {
        // A first restore holds every chain; jumps are inserted first in their chain.
        const jumps = call.input!.replace(/^-I (\S+) 1 /gm, "-A $1 ");
        node = jumps.replace("*filter", "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]");
        return {};
      });
    return {
      runner,
      namespaces,
      flushNode: () => (node = "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"),
    };
  }

  it("puts back a pod's rules flushed by hand and the node's chains, and only then; counts it", async () => {
    const { runner, namespaces, flushNode } = kernel();
    const enforcer = node(runner, await tempDir("enforcer-"));
    const world = aIsolated();
    await enforcer.sync(world);
    const applied = namespaces.get("cni-aaa")!;
    expect(applied).toContain("-A AKS-IPVLAN-INGRESS");

    // Nothing drifted: a verifying sync changes nothing (negative control).
    const calm = await enforcer.sync(world, { verify: true });
    expect(calm.applied).toEqual([]);
    expect(calm.nodeRulesApplied).toBe(false);

    namespaces.set("cni-aaa", "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n");
    flushNode();
    // Between resyncs the enforcer trusts what it applied.
    expect((await enforcer.sync(world)).applied).toEqual([]);
    const repaired = await enforcer.sync(world, { verify: true });
    expect(repaired.applied.map((outcome) => outcome.pod)).toEqual(["x/a"]);
    expect(namespaces.get("cni-aaa")).toBe(applied);
    expect(repaired.nodeRulesApplied).toBe(true);
    expect(calm.repairs).toEqual({ pods: [], node: [] });
    expect(repaired.repairs.pods).toEqual(["x/a"]);
    expect(repaired.repairs.node.map((repair) => `${repair.kind} ${repair.chain}`)).toContain(
      "chain-missing AKS-IPVLAN-POD-INGRESS",
    );

    const registry = new MetricsRegistry("aks_ipvlan_");
    policyMetrics(registry).record(repaired, 1);
    expect(registry.text()).toMatch(/^aks_ipvlan_policy_drift_repairs_total\{where="pod"\} 1$/m);
    expect(registry.text()).toMatch(/^aks_ipvlan_policy_drift_repairs_total\{where="node"\} [1-9]/m);
  });
});
