// `aks-ipvlan controller` as a user runs it: a process with a kubeconfig file, metrics on --listen,
// and a clean stop on SIGTERM that hands the lease back.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { NAMESPACE } from "../../src/manifests/names.ts";
import { addNode, blocksByNode, nodeIp, until } from "./harness.ts";
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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("aks-ipvlan controller", () => {
  it("allocates, serves metrics, and gives the lease back on SIGTERM", async () => {
    const port = await freePort();
    addNode(cluster.server, "node-0", nodeIp(0));
    const child = spawn(
      process.execPath,
      [
        "src/cli/main.ts",
        "controller",
        "--config",
        join(directory, "spec.yaml"),
        "--kubeconfig",
        join(directory, "kubeconfig"),
        "--listen",
        `127.0.0.1:${port}`,
      ],
      { env: { ...process.env, POD_NAME: "controller-0" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const output: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));

    await until("node-0 has a block", () => blocksByNode(cluster.server).get("node-0")?.length === 1);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/aks_ipvlan_controller_leader 1/);
    expect(output.join("")).toMatch(/"msg":"node block assigned"/);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const lease = cluster.server.get("coordination.k8s.io/v1", "Lease", "aks-ipvlan-controller", NAMESPACE);
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toBe("");
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
});
