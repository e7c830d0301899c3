// The command line's cluster commands (install, verify, doctor, uninstall) end to end against the
// in-test API server (test/apiserver): verify and doctor exec into pods, which needs a kubelet, and the
// shared real control plane (test/realkube) has none yet.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import { main } from "../../src/cli/main.ts";
import { NAMESPACE } from "../../src/manifests/names.ts";
import { clusterForVerify, coreDns, daemonSetsBecomeReady, node, podsReach } from "./actors.ts";
import { clusterAnswers } from "./fake-exec.ts";
import { serveExec } from "../apiserver/exec.ts";
import { tempDirSync } from "../fakes/temp-dir.ts";

const kube = useInTestApiServer();
const stops = kube.stops;
let server: ApiServer;
let kubeconfig: string;
let out: string[];
let err: string[];
const seed = new URL("../../examples/seed.yaml", import.meta.url).pathname;

beforeEach(async () => {
  server = kube.server;
  server.put(node("node1", "10.224.0.4"));
  server.put(coreDns(true));
  const dir = tempDirSync("aks-ipvlan-cli-");
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, server.kubeconfigYaml());
  out = [];
  err = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  delete process.env.KUBECONFIG;
});

const scratchNamespaces = () =>
  server
    .list("v1", "Namespace")
    .map((ns) => (ns.metadata as { name: string }).name)
    .filter((name) => name.startsWith("aks-ipvlan-verify-"));

const cli = (...args: string[]) => {
  process.exitCode = undefined;
  return main(["node", "aks-ipvlan", ...args]);
};

describe("the cluster commands from the command line", () => {
  it("install prints what it created, then nothing to change on a rerun (KUBECONFIG honoured)", async () => {
    stops.push(daemonSetsBecomeReady(server, 1));
    process.env.KUBECONFIG = kubeconfig;
    expect(await cli("install", "--config", seed)).toBe(0);
    expect(out.join("")).toContain(`Namespace ${NAMESPACE} created`);
    expect(out.join("")).toContain("agent: ready on 1/1 nodes, updated on 1/1\nCoreDNS: ready\n");
    out.length = 0;
    expect(await cli("install", "--config", seed)).toBe(0);
    expect(out.join("")).toContain(`Namespace ${NAMESPACE} unchanged`);
    expect(out.join("")).toContain("nothing to change");
  });

  it("uninstall cleans the node, says what it deleted, and exits 1 when a node's cleanup fails", async () => {
    stops.push(daemonSetsBecomeReady(server, 1));
    expect(await cli("install", "--config", seed, "--kubeconfig", kubeconfig)).toBe(0);
    stops.push(podsReach(server, () => "Succeeded"));
    out.length = 0;
    expect(await cli("uninstall", "--config", seed, "--kubeconfig", kubeconfig)).toBe(0);
    expect(out.join("")).toContain("node node1: cleaned\n");
    expect(out.join("")).toContain(`Namespace ${NAMESPACE} deleted\n`);

    expect(await cli("install", "--config", seed, "--kubeconfig", kubeconfig)).toBe(0);
    stops.splice(-1)[0]!();
    stops.push(podsReach(server, () => "Failed"));
    expect(await cli("uninstall", "--config", seed, "--kubeconfig", kubeconfig)).toBe(1);
    expect(out.join("")).toContain("node node1: failed");
  });

  it("install --dry-run writes nothing", async () => {
    expect(await cli("install", "--config", seed, "--dry-run", "--kubeconfig", kubeconfig)).toBe(0);
    expect(out.join("")).toContain("created (server dry run)");
    expect(server.get("v1", "Namespace", NAMESPACE)).toBeUndefined();
  });

  it("exits 3 when the cluster cannot be reached, 2 on bad input", async () => {
    const unreachable = readFileSync(kubeconfig, "utf8").replace(server.url, "http://127.0.0.1:1");
    writeFileSync(kubeconfig, unreachable);
    expect(await cli("doctor", "--kubeconfig", kubeconfig)).toBe(3);
    expect(err.join("")).toContain("cannot reach http://127.0.0.1:1");
    expect(await cli("install", "--config", seed, "--timeout", "soon", "--kubeconfig", kubeconfig)).toBe(2);
    expect(await cli("install", "--config", seed, "--context", "nope", "--kubeconfig", kubeconfig)).toBe(2);
  });

  it("exits 1 when the agent does not get ready in time", async () => {
    expect(await cli("install", "--config", seed, "--timeout", "0.3", "--kubeconfig", kubeconfig)).toBe(1);
    expect(err.join("")).toContain("timed out");
  });

  it("doctor exits 1 with its findings as JSON when nothing is installed", async () => {
    expect(await cli("doctor", "--json", "--kubeconfig", kubeconfig)).toBe(1);
    const findings = JSON.parse(out.join("")) as Array<{ check: string; severity: string }>;
    expect(findings[0]).toMatchObject({ check: "agent", severity: "error" });
  });

  it("verify passes through exec over the API server's WebSocket protocol, and removes its namespace", async () => {
    stops.push(...clusterForVerify(server));
    const answers = clusterAnswers(server);
    stops.push(
      serveExec(server, (request) =>
        answers(
          { namespace: request.namespace, name: request.pod, container: request.container },
          request.command,
        ),
      ),
    );
    expect(await cli("verify", "--json", "--kubeconfig", kubeconfig, "--timeout", "10")).toBe(0);
    const { results } = JSON.parse(out.join("")) as { results: Array<{ id: string; status: string }> };
    expect(results.filter((r) => r.status === "fail")).toEqual([]);
    expect(results.filter((r) => r.status === "pass").length).toBeGreaterThan(5);
    expect(scratchNamespaces()).toEqual([]);
  });

  it("verify exits 1 when checks fail, writes JUnit, and removes its namespace", async () => {
    stops.push(...clusterForVerify(server));
    // Pods start, but the API server refuses every exec (no handler): every probe fails.
    const junit = join(tempDirSync("aks-ipvlan-junit-"), "verify.xml");
    const code = await cli("verify", "--junit", junit, "--kubeconfig", kubeconfig, "--timeout", "10");
    expect(code).toBe(1);
    expect(out.join("")).toMatch(/^check\s+nodes\s+test\n/);
    expect(out.join("")).toMatch(/^test: egress: /m);
    expect(readFileSync(junit, "utf8")).toContain("<testsuites");
    expect(scratchNamespaces()).toEqual([]);
    expect(err.join("")).toMatch(/deleted namespace aks-ipvlan-verify-[0-9a-f]{6}/);
  });
});
