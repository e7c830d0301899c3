// `verify --policies` against the in-test API server: the model's namespaces, pods and each case's
// policies go through the real API calls and are cleaned up; the probes' answers come from an injected
// cluster (the reference evaluator over what the API server holds, read through the agent's own world
// builder, or a cluster that enforces nothing). What a real datapath answers is proven only on a cluster.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import { serveExec } from "../apiserver/exec.ts";
import type { JsonObject } from "../apiserver/patch.ts";
import type { KubeApi } from "../../src/kube/client.ts";
import type { KubeObject } from "../../src/kube/api.ts";
import type { ExecResult, PodExec, PodTarget } from "../../src/kube/exec.ts";
import { withScratchNamespace } from "../../src/kube/scratch-namespace.ts";
import { main } from "../../src/cli/main.ts";
import { buildWorld } from "../../src/agent/policy/world.ts";
import { mayConnect } from "../../src/policy/evaluate.ts";
import { internalIp } from "../../src/kube/nodes.ts";
import { policyKubeCluster } from "../../src/verify/policy-kube.ts";
import { POLICY_CASES } from "../../src/verify/policy-cases.ts";
import { runPolicyCases, type PolicyCaseResult } from "../../src/verify/policy-suite.ts";
import { clusterForVerify } from "./actors.ts";
import { clusterAnswers } from "./fake-exec.ts";
import { tempDirSync } from "../fakes/temp-dir.ts";

const kube = useInTestApiServer();
const stops = kube.stops;
let server: ApiServer;
let api: KubeApi;

beforeEach(async () => {
  ({ server, api } = kube);
  stops.push(...clusterForVerify(server));
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const objects = (apiVersion: string, kind: string) =>
  server.list(apiVersion, kind) as unknown as KubeObject[];

/** A probe command (`sh -c SCRIPT probe ip:port…`): its targets, or undefined for any other command. */
const probeTargets = (command: readonly string[]) =>
  command[0] === "sh" && command[3] === "probe"
    ? command.slice(4).map((target) => {
        const [ip, port] = target.split(":");
        return { ip: ip!, port: Number(port) };
      })
    : undefined;

/**
 * Answers probes as a cluster enforcing the policies the API server holds would (`enforcing`), or as
 * one enforcing none; one line per target, 1 when the connection opens.
 */
function policyAnswers(enforcing: boolean) {
  return (target: PodTarget, command: readonly string[]): ExecResult | undefined => {
    const targets = probeTargets(command);
    if (!targets) return undefined;
    const { world, rejected } = buildWorld({
      pods: objects("v1", "Pod"),
      namespaces: objects("v1", "Namespace"),
      policies: objects("networking.k8s.io/v1", "NetworkPolicy"),
    });
    if (rejected.length > 0) throw new Error(rejected.join("; "));
    const nodeIPs = new Map(objects("v1", "Node").map((node) => [node.metadata.name, internalIp(node)!]));
    const client = world.pods.find((pod) => pod.namespace === target.namespace && pod.name === target.name)!;
    const open = targets.map(
      ({ ip, port }) =>
        !enforcing ||
        mayConnect(world, { pod: client, ip: client.ip }, { ip }, port, "TCP", {
          nodeIPOf: (pod) => nodeIPs.get(pod.node)!,
        }),
    );
    return { code: 0, stdout: `${open.map((ok) => (ok ? "1" : "0")).join("\n")}\n`, stderr: "" };
  };
}

function execAnswering(enforcing: boolean): { exec: PodExec; calls: string[][] } {
  const answers = policyAnswers(enforcing);
  const calls: string[][] = [];
  return {
    calls,
    exec: {
      async exec(target, command) {
        calls.push([...command]);
        return answers(target, command) ?? { code: 127, stdout: "", stderr: "not a probe" };
      },
    },
  };
}

const nodes = [
  { name: "node1", ip: "10.224.0.4" },
  { name: "node2", ip: "10.224.0.5" },
];

async function runCases(exec: PodExec, settleMs = 0): Promise<PolicyCaseResult[]> {
  return withScratchNamespace(api, "aks-ipvlan-policy-x", (x) =>
    withScratchNamespace(api, "aks-ipvlan-policy-y", (y) =>
      runPolicyCases(
        policyKubeCluster({ api, exec, namespaces: { x, y }, busybox: "busybox:1", timeoutMs: 10_000 }),
        nodes,
        { settleMs },
      ),
    ),
  );
}

const scratch = () =>
  objects("v1", "Namespace")
    .map((ns) => ns.metadata.name)
    .filter((name) => name.startsWith("aks-ipvlan-"));

describe("verify --policies through the Kubernetes API", () => {
  it("creates the model, applies each case's policies and compares every cell with the evaluator", async () => {
    const seenPolicies: string[] = [];
    stops.push(
      server.onChange((event) => {
        if (event.object.kind === "NetworkPolicy" && event.type === "ADDED")
          seenPolicies.push((event.object.metadata as { name: string }).name);
      }),
    );
    const { exec, calls } = execAnswering(true);
    const results = await runCases(exec);
    expect(results.map((result) => result.name)).toEqual(POLICY_CASES.map((c) => c.name));
    for (const result of results) {
      expect(result.wrong, result.name).toEqual([]);
      expect(result.denied, result.name).toBeGreaterThan(0);
      expect(result.sameNode, result.name).toBeGreaterThan(0);
      expect(result.crossNode, result.name).toBeGreaterThan(0);
    }
    // The named-port case probes both ports: 16 pairs × 2.
    expect(results[2]!.cells).toBe(32);
    expect(seenPolicies).toEqual([
      "deny-ingress",
      "allow-from-y",
      "allow-y-on-81-by-name",
      "a-egress-to-y-b",
      "a-egress-except-y-b",
    ]);
    // One probe batch per client pod and case: 4 clients × 5 cases.
    expect(calls).toHaveLength(20);
    expect(objects("networking.k8s.io/v1", "NetworkPolicy")).toEqual([]);
    expect(scratch()).toEqual([]);
  });

  it("places the model on two nodes with named ports, and labels both namespaces for the selectors", async () => {
    const pods: JsonObject[] = [];
    const labels: Record<string, string>[] = [];
    stops.push(
      server.onChange((event) => {
        if (event.object.kind === "Pod" && event.type === "ADDED") pods.push(event.object);
        if (event.object.kind === "NetworkPolicy" && event.type === "ADDED" && labels.length === 0)
          labels.push(
            ...scratch().map(
              (name) =>
                (server.get("v1", "Namespace", name)!.metadata as { labels: Record<string, string> }).labels,
            ),
          );
      }),
    );
    await runCases(execAnswering(true).exec);
    const placed = pods.map((pod) => {
      const meta = pod.metadata as { name: string; namespace: string };
      const spec = pod.spec as { nodeName: string; containers: { ports: { name: string }[] }[] };
      return `${meta.namespace.slice(0, "aks-ipvlan-policy-x".length)}/${meta.name} ${spec.nodeName} ${spec.containers[0]!.ports.map((port) => port.name).join(",")}`;
    });
    expect(placed.sort()).toEqual([
      "aks-ipvlan-policy-x/a node1 serve-80-tcp,serve-81-tcp",
      "aks-ipvlan-policy-x/b node2 serve-80-tcp,serve-81-tcp",
      "aks-ipvlan-policy-y/a node2 serve-80-tcp,serve-81-tcp",
      "aks-ipvlan-policy-y/b node1 serve-80-tcp,serve-81-tcp",
    ]);
    expect(labels.map((entry) => entry["aks-ipvlan.io/verify-policy-ns"]).sort()).toEqual(["x", "y"]);
  });

  it("reports every denied cell as wrong when nothing is enforced (negative control)", async () => {
    const results = await runCases(execAnswering(false).exec);
    for (const result of results) {
      expect(result.wrong.length, result.name).toBe(result.denied);
      expect(result.wrong.every((cell) => !cell.expected)).toBe(true);
      expect(result.settledMs).toBeUndefined();
    }
    expect(scratch()).toEqual([]);
  });
});

describe("aks-ipvlan verify --policies", () => {
  let out: string[];
  let err: string[];
  beforeEach(() => {
    out = [];
    err = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
  });

  const verify = async (enforcing: boolean, ...args: string[]) => {
    const suite = clusterAnswers(server);
    const policies = policyAnswers(enforcing);
    stops.push(
      serveExec(server, (request) => {
        const target = { namespace: request.namespace, name: request.pod, container: request.container };
        return policies(target, request.command) ?? suite(target, request.command);
      }),
    );
    const kubeconfig = join(tempDirSync("aks-ipvlan-cli-"), "kubeconfig");
    writeFileSync(kubeconfig, server.kubeconfigYaml());
    process.exitCode = undefined;
    return main(["node", "aks-ipvlan", "verify", "--policies", "--kubeconfig", kubeconfig, ...args]);
  };

  it("runs the checks, then the policy cases, over exec's WebSocket protocol; exit 0 and every namespace removed", async () => {
    expect(await verify(true, "--json", "--timeout", "10")).toBe(0);
    const { policies } = JSON.parse(out.join("")) as { policies: PolicyCaseResult[] };
    expect(policies).toHaveLength(POLICY_CASES.length);
    expect(policies.flatMap((result) => result.wrong)).toEqual([]);
    expect(scratch()).toEqual([]);
    expect(err.join("")).toMatch(/deleted namespace aks-ipvlan-policy-y-[0-9a-f]{6}/);
  });

  it("exits 1 and names each wrong cell when policies are not enforced", async () => {
    expect(await verify(false, "--timeout", "10", "--policy-settle", "0.01")).toBe(1);
    const text = out.join("");
    expect(text).toMatch(/^NetworkPolicy case \(upstream\)\s+cells\s+denied\s+wrong\s+settled$/m);
    expect(text).toMatch(
      /should support a 'default-deny-ingress' policy\s+16 \(\d+ same node, \d+ across\)\s+\d+\s+FAIL \d+/,
    );
    expect(text).toMatch(/: y\/a → x\/a:80 should be closed$/m);
    expect(scratch()).toEqual([]);
  });

  it("refuses a bad --policy-settle before creating anything (exit 2)", async () => {
    expect(await verify(true, "--policy-settle", "soon")).toBe(2);
    expect(err.join("")).toMatch(/--policy-settle/);
    expect(scratch()).toEqual([]);
    expect(server.writes()).toEqual([]);
  });
});
