import { describe, expect, it } from "vitest";
import { copyFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pino } from "pino";
import { REQUIRED_PLUGINS } from "../cni/conflist.ts";
import { fakeRunner } from "../../test/fakes/runner.ts";
import { serve } from "./serve.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";

async function until<T>(probe: () => Promise<T | undefined>, what: string, deadlineMs = 10_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A node's files (CNI bins, /proc/sys) in a temp dir and a runner that answers like an empty node. */
async function fakeNode(prefix: string, ipForward: string) {
  const root = await tempDir(prefix);
  const bin = join(root, "bin");
  await mkdir(bin);
  for (const plugin of REQUIRED_PLUGINS) await writeFile(join(bin, plugin), "", { mode: 0o755 });
  await mkdir(join(root, "proc/net/ipv4"), { recursive: true });
  await writeFile(join(root, "proc/net/ipv4/ip_forward"), `${ipForward}\n`);
  const restores: string[] = [];
  const runner = fakeRunner()
    .on("iptables-legacy-save", { stdout: "" })
    .on("iptables-legacy-restore", (call) => (restores.push(call.input ?? ""), {}))
    .on("ip -json -details link show", { stdout: JSON.stringify([{ ifname: "eth0" }]) })
    .on("ip -json -4 route", { stdout: "[]" })
    .on("ip -batch -", {});
  const paths = { cniConfDir: join(root, "net.d"), cniBinDir: bin, ipamDataDir: join(root, "ipam") };
  return { root, paths, restores, runner, procSys: join(root, "proc") };
}

describe("serve", () => {
  it("is ready after the first reconcile, serves status and metrics, follows spec edits, stops on request", async () => {
    const { root, paths, restores, runner, procSys } = await fakeNode("serve-", "0");
    const configDir = join(root, "config");
    await mkdir(configDir);
    const config = join(configDir, "cluster.yaml");
    await copyFile(new URL("../../examples/seed.yaml", import.meta.url), config);
    const stop = new AbortController();
    let port = 0;
    const running = serve(
      {
        config,
        node: "node1",
        kube: false,
        listen: "127.0.0.1:0",
        resyncSeconds: 3600,
        paths,
      },
      {
        runner: runner.run,
        procSys,
        stop: stop.signal,
        onListening: (address) => (port = address.port),
        logger: pino({ level: "silent" }),
      },
    );
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    await until(async () => (port ? true : undefined), "listening");
    expect((await fetch(url("/healthz"))).status).toBe(200);
    await until(async () => ((await fetch(url("/readyz"))).status === 200 ? true : undefined), "ready");

    const status = (await (await fetch(url("/status"))).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      node: "node1",
      ready: true,
      blocks: ["10.224.0.16/28"],
      backend: "legacy",
      ipForward: "1",
      hostDevice: "ipvl-host",
      chains: { nat: ["AKS-IPVLAN-POSTROUTING", "AKS-IPVLAN-MASQ"], filter: ["AKS-IPVLAN-OUTPUT"] },
      addresses: { inUse: 0, capacity: 16, gc: "off" },
      lastError: null,
    });
    const conflist = await readFile(join(root, "net.d/10-aks-ipvlan.conflist"), "utf8");
    expect((status.conflist as { hash: string }).hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.parse(conflist).name).toBe("aks-ipvlan");

    const metrics = await (await fetch(url("/metrics"))).text();
    expect(metrics).toMatch(/^aks_ipvlan_reconciles_total 1$/m);
    expect(metrics).toMatch(/^aks_ipvlan_block_capacity 16$/m);
    expect(metrics).toMatch(/^aks_ipvlan_drift_repairs_total\{kind="chain-missing"\} 3$/m);
    expect(metrics).toMatch(/^aks_ipvlan_drift_repairs_total\{kind="sysctl"\} 1$/m);
    expect(metrics).toMatch(/^aks_ipvlan_last_reconcile_duration_seconds /m);

    // A ConfigMap update replaces the file by rename; the next reconcile uses the new spec.
    const edited = `${await readFile(config, "utf8")}masquerade:\n  nonMasqueradeCIDRs: [10.224.0.0/16, 10.0.0.0/8]\n`;
    await writeFile(join(configDir, ".new"), edited);
    await rename(join(configDir, ".new"), config);
    await until(
      async () => (restores.some((r) => r.includes("-d 10.0.0.0/8")) ? true : undefined),
      "spec edit applied",
    );

    // A broken edit is reported and ignored: the last good spec stays in force.
    await writeFile(join(configDir, ".new"), "nodeSubnet: [oops\n");
    await rename(join(configDir, ".new"), config);
    const broken = await until(async () => {
      const body = (await (await fetch(url("/status"))).json()) as { specError: string | null };
      return body.specError ?? undefined;
    }, "the broken spec to be reported");
    expect(broken).toMatch(/invalid YAML/);
    expect((await fetch(url("/readyz"))).status).toBe(200);

    stop.abort();
    await running;
    await expect(fetch(url("/healthz"))).rejects.toThrow();
  });
});

/**
 * node9 (not in the spec: its IP and block come from its Node object, created here without a block)
 * served with --kube against the in-test API server, until `stop` aborts.
 */
async function serveNode9(prefix: string, config?: (root: string) => Promise<string>) {
  const { ADMIN_TOKEN, startApiServer } = await import("../../test/apiserver/server.ts");
  const { restClient } = await import("../kube/rest-client.ts");
  const { clusterView } = await import("./kube.ts");
  const api = await startApiServer({ bookmarkIntervalMs: 50 });
  const fake = await fakeNode(prefix, "1");
  const node = (annotations: Record<string, string>) =>
    api.put({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node9", annotations },
      status: { addresses: [{ type: "InternalIP", address: "10.224.0.9" }] },
    });
  node({});
  const stop = new AbortController();
  let port = 0;
  const running = serve(
    {
      config: config
        ? await config(fake.root)
        : new URL("../../examples/seed.yaml", import.meta.url).pathname,
      node: "node9",
      kube: true,
      listen: "127.0.0.1:0",
      resyncSeconds: 3600,
      paths: fake.paths,
    },
    {
      runner: fake.runner.run,
      procSys: fake.procSys,
      cluster: clusterView("node9", restClient({ server: api.url, token: async () => ADMIN_TOKEN })),
      stop: stop.signal,
      onListening: (address) => (port = address.port),
      logger: pino({ level: "silent" }),
    },
  );
  return {
    ...fake,
    api,
    /** Sets node9's annotations. */
    node,
    listening: () => port !== 0,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    async close() {
      stop.abort();
      await running;
      await api.close();
    },
  };
}

describe("serve with --kube", () => {
  it("waits unready for the controller's block, then reconciles when the Node annotation arrives", async () => {
    const { root, node, listening, url, close } = await serveNode9("serve-kube-");
    try {
      const waiting = await until(async () => {
        const status = listening()
          ? ((await (await fetch(url("/status"))).json()) as { waiting?: string })
          : undefined;
        return status?.waiting;
      }, "the agent to wait for a block");
      expect(waiting).toMatch(/no block yet/);
      expect((await fetch(url("/readyz"))).status).toBe(503);
      await expect(readFile(join(root, "net.d/10-aks-ipvlan.conflist"), "utf8")).rejects.toThrow(/ENOENT/);

      node({ "aks-ipvlan.io/blocks": "10.224.0.64/28" });
      await until(async () => ((await fetch(url("/readyz"))).status === 200 ? true : undefined), "ready");
      const status = (await (await fetch(url("/status"))).json()) as Record<string, unknown>;
      expect(status).toMatchObject({
        nodeIp: "10.224.0.9",
        blocks: ["10.224.0.64/28"],
        addresses: { gc: "on" },
      });
      const conflist = JSON.parse(await readFile(join(root, "net.d/10-aks-ipvlan.conflist"), "utf8"));
      expect(conflist.plugins[0].ipam.ranges[0][0].rangeStart).toBe("10.224.0.64");
    } finally {
      await close();
    }
  });
});

describe("serve with --kube and NetworkPolicy", () => {
  it("starts policy once the node has a block, says so in /status, /readyz and a metric, and follows a second block", async () => {
    const { root, api, node, listening, url, close, runner } = await serveNode9(
      "serve-policy-",
      async (dir) => {
        const config = join(dir, "cluster.yaml");
        const seed = await readFile(new URL("../../examples/seed.yaml", import.meta.url), "utf8");
        await writeFile(config, `${seed}agent:\n  policy:\n    enabled: true\n`);
        return config;
      },
    );
    // One pod of node9 in the block it gets second, in its own network namespace.
    runner
      .on("ip -all netns exec ip -4", {
        stdout: "netns: cni-p\n2: eth0    inet 10.224.0.81/28 brd 10.224.0.95 scope global eth0\n",
      })
      .on("ip -all netns exec iptables-legacy-save", { stdout: "" })
      .on("ip -force -batch -", {});
    api.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } });
    api.put({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "x", labels: { app: "p" } },
      spec: { nodeName: "node9", containers: [{ name: "c" }] },
      status: { podIP: "10.224.0.81", podIPs: [{ ip: "10.224.0.81" }] },
    });
    api.put({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "deny-egress", namespace: "x" },
      spec: { podSelector: {}, policyTypes: ["Egress"] },
    });
    const policy = async () =>
      listening()
        ? ((await (await fetch(url("/status"))).json()) as { policy?: Record<string, unknown> }).policy
        : undefined;
    const payload = () => readFile(join(root, "policy", "cni-p.rules"), "utf8");
    try {
      const waiting = await until(
        async () => ((await policy())?.reason ? await policy() : undefined),
        "policy state",
      );
      expect(waiting).toMatchObject({
        enabled: true,
        enforced: false,
        reason: expect.stringMatching(/no block yet/),
      });
      expect((await fetch(url("/readyz"))).status).toBe(503);
      expect(await (await fetch(url("/metrics"))).text()).toMatch(/^aks_ipvlan_policy_enforced 0$/m);

      // The controller assigns a first block: policy starts (this node joined after install).
      node({ "aks-ipvlan.io/blocks": "10.224.0.64/28" });
      await until(async () => ((await policy())?.enforced === true ? true : undefined), "policy enforced");
      expect((await fetch(url("/readyz"))).status).toBe(200);
      expect(await (await fetch(url("/metrics"))).text()).toMatch(/^aks_ipvlan_policy_enforced 1$/m);
      // The pod's address is in no block of the node yet: its same-node egress check knows only the first.
      expect(await payload()).toMatch(/-A AKS-IPVLAN-EGRESS -d 10.224.0.64\/28 .*-j REJECT/);
      expect(await payload()).not.toMatch(/10.224.0.80\/28/);

      // A second block: egress to it is judged in the pod's namespace from now on.
      node({ "aks-ipvlan.io/blocks": "10.224.0.64/28,10.224.0.80/28" });
      await until(
        async () => ((await payload()).includes("-d 10.224.0.80/28") ? true : undefined),
        "the second block in the pod's rules",
      );
      expect(await payload()).toMatch(/-A AKS-IPVLAN-EGRESS -d 10.224.0.80\/28 .*-j REJECT/);
    } finally {
      await close();
    }
  });
});

describe("serve with --kube in vxlan mode", () => {
  it("follows a join and a leave with that node's entries alone, without reading the overlay back", async () => {
    const { api, node, runner, listening, url, close } = await serveNode9("serve-vxlan-", async (dir) => {
      // In a directory of its own: the spec watch then wakes only for the spec.
      await mkdir(join(dir, "config"));
      const config = join(dir, "config", "cluster.yaml");
      await writeFile(
        config,
        "nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nrouting: {mode: vxlan}\n",
      );
      return config;
    });
    runner
      .on("ip -json -4 rule show", { stdout: "[]" })
      .on("ip -json -4 neigh", { stdout: "[]" })
      .on("bridge -json fdb", { stdout: "[]" })
      .on("bridge -batch -", {});
    const peer = (name: string, ip: string, blocks: string) =>
      api.put({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name, annotations: { "aks-ipvlan.io/blocks": blocks } },
        status: { addresses: [{ type: "InternalIP", address: ip }] },
      });
    const since = (from: number) =>
      runner.calls.slice(from).map((call) => [call.file, ...call.args].join(" "));
    const batchAfter = async (from: number, what: string) =>
      until(
        async () =>
          runner.calls.slice(from).find((call) => call.file === "bridge" && call.input?.includes(what)),
        what,
      );
    try {
      node({ "aks-ipvlan.io/blocks": "10.241.0.0/28" });
      await until(
        async () => (listening() && (await fetch(url("/readyz"))).status === 200 ? true : undefined),
        "ready",
      );
      // The first reconcile read the overlay back and programmed it.
      expect(since(0)).toContain("ip -json -4 route show table 4789");

      const joined = runner.calls.length;
      peer("node8", "10.224.0.8", "10.241.0.16/28");
      await batchAfter(joined, "fdb replace 02:a5:0a:e0:00:08");
      expect(since(joined)).toEqual(["ip -batch -", "bridge -batch -"]);
      expect(runner.calls[joined]!.input).toBe(
        "neigh replace 10.224.0.8 lladdr 02:a5:0a:e0:00:08 dev vxlan-aks nud permanent\n" +
          "route replace 10.241.0.16/28 via 10.224.0.8 dev vxlan-aks onlink\n" +
          "route replace 10.224.0.8/32 dev vxlan-aks table 4789\n",
      );

      const left = runner.calls.length;
      api.remove("v1", "Node", "node8");
      await batchAfter(left, "fdb del 02:a5:0a:e0:00:08");
      expect(since(left)).toEqual(["ip -batch -", "bridge -batch -"]);
      expect(runner.calls[left]!.input).toBe(
        "route del 10.224.0.8/32 dev vxlan-aks table 4789\n" +
          "route del 10.241.0.16/28 dev vxlan-aks\n" +
          "neigh del 10.224.0.8 dev vxlan-aks\n",
      );
    } finally {
      await close();
    }
  });
});
