// `aks-ipvlan controller` as a user runs it: a process with a kubeconfig file, metrics on --listen,
// and a clean stop on SIGTERM that hands the lease back.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { NAMESPACE } from "../../src/manifests/names.ts";
import { addNode, blocksByNode, freePort, nodeIp, until } from "./harness.ts";
import { useTestCluster } from "./cluster.ts";

const cluster = useTestCluster();
let directory = "";
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "controller-cli-"));
  await writeFile(join(directory, "kubeconfig"), cluster.server.kubeconfigYaml());
  await writeFile(
    join(directory, "spec.yaml"),
    "name: aks\nnodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\n",
  );
});
afterEach(() => rm(directory, { recursive: true, force: true }));

/**
 * The controller command as a process, with no Azure environment at all: no AZURE_* variables and a
 * home without an `az login` session, so any Azure credential it looked for would be missing.
 */
function spawnCli(args: string[]) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(AZURE_|IDENTITY_|MSI_)/.test(name)),
  );
  const child = spawn(
    process.execPath,
    [
      "src/cli/main.ts",
      "controller",
      ...["--config", join(directory, "spec.yaml"), "--kubeconfig", join(directory, "kubeconfig")],
      ...args,
    ],
    { env: { ...env, HOME: directory, POD_NAME: "controller-0" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const stdout: string[] = [];
  const all: string[] = [];
  child.stdout.on("data", (chunk: Buffer) => {
    stdout.push(chunk.toString());
    all.push(chunk.toString());
  });
  child.stderr.on("data", (chunk: Buffer) => all.push(chunk.toString()));
  return {
    process: child,
    stdout: () => stdout.join(""),
    output: () => all.join(""),
    exited: new Promise<number | null>((resolve) => child.on("exit", resolve)),
  };
}

describe("aks-ipvlan controller", () => {
  it("allocates, serves metrics, and gives the lease back on SIGTERM", async () => {
    const port = await freePort();
    addNode(cluster.server, "node-0", nodeIp(0));
    const child = spawnCli(["--listen", `127.0.0.1:${port}`]);

    await until("node-0 has a block", () => blocksByNode(cluster.server).get("node-0")?.length === 1);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/aks_ipvlan_controller_leader 1/);
    expect(child.output()).toMatch(/"msg":"node block assigned"/);

    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    const lease = cluster.server.get("coordination.k8s.io/v1", "Lease", "aks-ipvlan-controller", NAMESPACE);
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe("");
  });

  it("runs in vxlan mode with no Azure setting, credential or login anywhere, and dry-runs there", async () => {
    await writeFile(
      join(directory, "spec.yaml"),
      "name: aks\nnodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nrouting: {mode: vxlan}\n",
    );
    addNode(cluster.server, "node-0", nodeIp(0));
    const dry = spawnCli(["--dry-run"]);
    expect(await dry.exited).toBe(0);
    expect(dry.stdout().split("\n")).toEqual([
      "# would annotate node node-0: aks-ipvlan.io/blocks=10.241.0.16/28",
      "# routing.mode vxlan: no route table; each node's agent programs the overlay from the annotations",
      "",
    ]);
    expect(blocksByNode(cluster.server).get("node-0")).toEqual([]);

    const child = spawnCli(["--listen", `127.0.0.1:${await freePort()}`]);
    await until("node-0 has a block", () => blocksByNode(cluster.server).get("node-0")?.length === 1);
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(child.output()).toMatch(/"mode":"vxlan","msg":"routing mode"/);
    expect(child.output()).not.toMatch(/azure|credential/i);
  });

  it("refuses a dry run without a route table in the spec (exit 2)", async () => {
    const code = await main([
      "node",
      "aks-ipvlan",
      "controller",
      "--config",
      join(directory, "spec.yaml"),
      "--kubeconfig",
      join(directory, "kubeconfig"),
      "--dry-run",
    ]);
    expect(code).toBe(2);
  });

  it("refuses --enable-ip-forwarding in vxlan mode (exit 2), before reaching the cluster", async () => {
    await writeFile(
      join(directory, "spec.yaml"),
      "name: aks\nnodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nrouting: {mode: vxlan}\n",
    );
    const before = cluster.server.requests.length;
    const code = await main([
      ...["node", "aks-ipvlan", "controller", "--config", join(directory, "spec.yaml")],
      ...["--kubeconfig", join(directory, "kubeconfig"), "--enable-ip-forwarding"],
    ]);
    expect(code).toBe(2);
    expect(cluster.server.requests).toHaveLength(before);
  });
});
