// The NetworkPolicy cases `verify --policies` runs on a real cluster: a few of the upstream e2e suite's
// (kubernetes test/e2e/network/netpol), scaled to what a scratch run can afford. Model: two namespaces
// x and y (selected by the label below, the namespaces' real names are random), pods a and b in each,
// every pod serving TCP 80 and 81 under the names serve-80-tcp and serve-81-tcp. Pure: the cases, the
// world they describe, the reference evaluator's verdict for every (client, server, port) cell, and
// the busybox probe a client pod runs (a cluster's pods and the testbed's alike).
import { mayConnect } from "../policy/evaluate.ts";
import type { NetworkPolicy, PolicyPod, PolicyWorld } from "../policy/model.ts";

export const MODEL_NAMESPACE_LABEL = "aks-ipvlan.io/verify-policy-ns";
const MODEL_NAMESPACES = ["x", "y"] as const;
export type ModelNamespace = (typeof MODEL_NAMESPACES)[number];
export const MODEL_POD_LABEL = "aks-ipvlan.io/verify-policy-pod";
export const SERVED_PORTS = [80, 81] as const;
export const portName = (port: number) => `serve-${port}-tcp`;

/** "x/a", "x/b", "y/a", "y/b". */
export type ModelPod = `${ModelNamespace}/${"a" | "b"}`;
export const MODEL_PODS: readonly ModelPod[] = ["x/a", "x/b", "y/a", "y/b"];

/** Where the model lives in one run: real namespace names, and each pod's IP and node. */
export interface PolicyRunEnv {
  namespace(model: ModelNamespace): string;
  pod(model: ModelPod): { ip: string; node: string };
  nodeIP(node: string): string;
}

export interface PolicyCase {
  /** The upstream It() title this case translates. */
  name: string;
  /** As the upstream suite's translation groups its cases (test/netpol/cases.ts). */
  group: "default deny" | "namespace selector" | "named ports" | "ipBlock";
  policies(env: PolicyRunEnv): NetworkPolicy[];
  ports: readonly number[];
}

export interface PolicyCell {
  from: ModelPod;
  to: ModelPod;
  port: number;
  /** What the reference evaluator says. */
  allowed: boolean;
}

type Spec = NonNullable<NetworkPolicy["spec"]>;

function policy(env: PolicyRunEnv, name: string, spec: Spec): NetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace: env.namespace("x") },
    spec,
  };
}

const inNamespace = (model: ModelNamespace) => ({ matchLabels: { [MODEL_NAMESPACE_LABEL]: model } });
const podNamed = (name: "a" | "b") => ({ matchLabels: { [MODEL_POD_LABEL]: name } });

export const POLICY_CASES: readonly PolicyCase[] = [
  {
    name: "should support a 'default-deny-ingress' policy",
    group: "default deny",
    ports: [80],
    policies: (env) => [policy(env, "deny-ingress", { podSelector: {}, policyTypes: ["Ingress"] })],
  },
  {
    name: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
    group: "namespace selector",
    ports: [80],
    policies: (env) => [
      policy(env, "allow-from-y", {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: inNamespace("y") }] }],
      }),
    ],
  },
  {
    name: "should allow ingress access from namespace on one named port",
    group: "named ports",
    ports: [80, 81],
    policies: (env) => [
      policy(env, "allow-y-on-81-by-name", {
        podSelector: {},
        policyTypes: ["Ingress"],
        ingress: [{ from: [{ namespaceSelector: inNamespace("y") }], ports: [{ port: portName(81) }] }],
      }),
    ],
  },
  {
    name: "should allow egress access to server in CIDR block",
    group: "ipBlock",
    ports: [80],
    policies: (env) => [
      policy(env, "a-egress-to-y-b", {
        podSelector: podNamed("a"),
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: `${env.pod("y/b").ip}/32` } }] }],
      }),
    ],
  },
  {
    name: "should enforce except clause while egress access to server in CIDR block",
    group: "ipBlock",
    ports: [80],
    policies: (env) => [
      policy(env, "a-egress-except-y-b", {
        podSelector: podNamed("a"),
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [`${env.pod("y/b").ip}/32`] } }] }],
      }),
    ],
  },
];

/** The model as the evaluator (and an enforcer) reads it, with these policies in force. */
export function modelWorld(env: PolicyRunEnv, policies: NetworkPolicy[]): PolicyWorld {
  return {
    namespaces: MODEL_NAMESPACES.map((model) => ({
      name: env.namespace(model),
      labels: { [MODEL_NAMESPACE_LABEL]: model },
    })),
    pods: MODEL_PODS.map((model) => modelPod(model, env)),
    policies,
  };
}

function modelPod(model: ModelPod, env: PolicyRunEnv): PolicyPod {
  const [namespace, name] = model.split("/") as [ModelNamespace, "a" | "b"];
  return {
    namespace: env.namespace(namespace),
    name,
    ...env.pod(model),
    labels: { [MODEL_POD_LABEL]: name },
    ports: SERVED_PORTS.map((port) => ({ name: portName(port), port, protocol: "TCP" as const })),
  };
}

/** Every cell of the case, every pod to every pod (itself included) on each probed port. */
export function expectedCells(c: PolicyCase, env: PolicyRunEnv): PolicyCell[] {
  const world = modelWorld(env, c.policies(env));
  const podOf = (model: ModelPod) => world.pods[MODEL_PODS.indexOf(model)]!;
  return c.ports.flatMap((port) =>
    MODEL_PODS.flatMap((from) =>
      MODEL_PODS.map((to) => ({
        from,
        to,
        port,
        allowed: mayConnect(world, { pod: podOf(from), ip: podOf(from).ip }, podOf(to), port, "TCP", {
          nodeIPOf: (pod) => env.nodeIP(pod.node),
        }),
      })),
    ),
  );
}

/** Seconds one connection may take: a dropped SYN fails it after this. */
const PROBE_TIMEOUT_S = 3;
// timeout(1) ends a GET that got no answer with SIGTERM (143); any other failure is an answer (refused).
const PROBE_SCRIPT = `for target in "$@"; do
  busybox timeout ${PROBE_TIMEOUT_S} busybox wget -q -O /dev/null "http://$target/"
  case $? in 0) echo 1 ;; 143) echo - ;; *) echo 0 ;; esac
done`;

/** What one connection got: it opened, it was refused (a denial answers at once), or nothing came. */
export type ProbeAnswer = "open" | "refused" | "silent";
const ANSWERS: Record<string, ProbeAnswer> = { "1": "open", "0": "refused", "-": "silent" };

/** One GET per target, in order, from inside the client pod; prints 1, 0 or - (silent) per target. */
export function probeCommand(targets: readonly { ip: string; port: number }[]): string[] {
  return ["sh", "-c", PROBE_SCRIPT, "probe", ...targets.map((target) => `${target.ip}:${target.port}`)];
}

export function probeTimeoutMs(targets: readonly unknown[]): number {
  return (targets.length * PROBE_TIMEOUT_S + 30) * 1000;
}

/** The probe's answers, or an error naming the client when its output is not one line per target. */
export function probeAnswers(
  from: ModelPod,
  targets: readonly unknown[],
  result: { code: number; stdout: string; stderr: string },
): ProbeAnswer[] {
  const answers = result.stdout.trim().split("\n");
  if (result.code !== 0 || answers.length !== targets.length || answers.some((line) => !(line in ANSWERS)))
    throw new Error(`probing from ${from} failed (exit ${result.code}): ${result.stderr || result.stdout}`);
  return answers.map((answer) => ANSWERS[answer]!);
}
