// The upstream NetworkPolicy e2e suite (kubernetes/kubernetes test/e2e/network/netpol/
// network_policy.go), translated into data: one case per checked step of each upstream It(), with the
// policies in force at that step, the label changes made before it, and the port/protocol probed.
// Model as upstream: namespaces x, y, z (labels ns=<name> and kubernetes.io/metadata.name), pods a, b,
// c in each (label pod=<name>), every pod serving TCP, UDP and SCTP on 80 and 81 with named ports
// serve-<port>-<protocol>. Upstream probes each server through its Service; a testbed may probe the pod
// IP, the ClusterIP, or both. The expected reachability is what the reference evaluator
// (src/policy/evaluate.ts) says; `upstream` keeps upstream's own expectation, written down literally,
// which test/netpol/cases.test.ts checks the evaluator against.
import type { NetworkPolicy, Protocol } from "../../src/policy/model.ts";

export const NAMESPACES = ["x", "y", "z"] as const;
const POD_NAMES = ["a", "b", "c"] as const;
type ModelNamespace = (typeof NAMESPACES)[number];
/** "x/a" … "z/c". */
export type ModelPod = `${ModelNamespace}/${(typeof POD_NAMES)[number]}`;
export const MODEL_PODS: ModelPod[] = NAMESPACES.flatMap((ns) =>
  POD_NAMES.map((pod) => `${ns}/${pod}` as ModelPod),
);
export const SERVED: { port: number; protocol: Protocol }[] = [80, 81].flatMap((port) =>
  (["TCP", "UDP", "SCTP"] as const).map((protocol) => ({ port, protocol })),
);

/** Binds a case to a cluster: the real namespace names and the pods' IPs. */
export interface CaseEnv {
  ns(name: ModelNamespace): string;
  ipOf(pod: ModelPod): string;
}

type CaseGroup =
  | "default deny"
  | "pod selector"
  | "namespace selector"
  | "pod and namespace selector"
  | "ports and protocols"
  | "named ports"
  | "allow-all and stacking"
  | "ipBlock";

/** Upstream's reachability statement: from → to is `allowed`; "*" and "x/*" widen a side. */
type Expectation = [from: string, to: string, allowed: boolean];

export interface NetpolCase {
  /** The upstream It() title (or our own title for source "aks-ipvlan"). */
  name: string;
  /** Which checked step of a multi-step upstream test. */
  step?: string;
  group: CaseGroup;
  source: "upstream" | "aks-ipvlan";
  /** Every policy in force at this step. */
  policies(env: CaseEnv): NetworkPolicy[];
  /** Labels added to namespaces / pods before this step. */
  namespaceLabels?: Partial<Record<ModelNamespace, Record<string, string>>>;
  podLabels?: Partial<Record<ModelPod, Record<string, string>>>;
  probes: { port: number; protocol: Protocol }[];
  /** Upstream's expectation, literally: the pods that test created, default true, then these in order. */
  upstream?: { pods: ModelPod[]; expect: Expectation[] };
  /** Kernel features the probes need beyond TCP/UDP. */
  needs?: "sctp";
}

// ---------------------------------------------------------------------------------------------
// Builders (the shape of upstream's GenNetworkPolicy helpers: SetSpecIngressRules / SetSpecEgressRules
// add the policy type; an empty rule list is a deny).

type Spec = NonNullable<NetworkPolicy["spec"]>;
type Ingress = NonNullable<Spec["ingress"]>[number];
type Egress = NonNullable<Spec["egress"]>[number];
type Selector = Spec["podSelector"];

const NAME_LABEL = "kubernetes.io/metadata.name";

function policy(
  env: CaseEnv,
  ns: ModelNamespace,
  name: string,
  podSelector: Selector,
  rules: { ingress?: Ingress[]; egress?: Egress[]; policyTypes?: ("Ingress" | "Egress")[] },
): NetworkPolicy {
  const policyTypes = rules.policyTypes ?? [
    ...(rules.ingress ? ["Ingress" as const] : []),
    ...(rules.egress ? ["Egress" as const] : []),
  ];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace: env.ns(ns) },
    spec: {
      podSelector,
      policyTypes,
      ...(rules.ingress ? { ingress: rules.ingress } : {}),
      ...(rules.egress ? { egress: rules.egress } : {}),
    },
  };
}

const pod = (name: string): Selector => ({ matchLabels: { pod: name } });
const all: Selector = {};
const nsNamed = (env: CaseEnv, ns: ModelNamespace): Selector => ({
  matchLabels: { [NAME_LABEL]: env.ns(ns) },
});
const nsNotIn = (env: CaseEnv, ns: ModelNamespace): Selector => ({
  matchExpressions: [{ key: NAME_LABEL, operator: "NotIn", values: [env.ns(ns)] }],
});
const tcp = (port: number) => [{ port, protocol: "TCP" as const }];
const udp = (port: number) => [{ port, protocol: "UDP" as const }];
const sctp = (port: number) => [{ port, protocol: "SCTP" as const }];

/** The /4 around an IP (upstream's makeLargeCIDRForIP). */
function large(ip: string): string {
  const first = Number(ip.split(".")[0]) & 0xf0;
  return `${first}.0.0.0/4`;
}

const denyIngressX = (env: CaseEnv, name: string) => policy(env, "x", name, all, { ingress: [] });

// ---------------------------------------------------------------------------------------------

export const CASES: NetpolCase[] = [
  {
    name: "should support a 'default-deny-all' policy",
    group: "default deny",
    source: "upstream",
    policies: (env) => [policy(env, "x", "deny-all", all, { ingress: [], egress: [] })],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a"],
      expect: [
        ["*", "x/*", false],
        ["x/*", "*", false],
      ],
    },
  },
  {
    name: "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
    group: "pod selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "x-a-allows-x-b", pod("a"), { ingress: [{ from: [{ podSelector: pod("b") }] }] }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "x/c", "y/a"],
      expect: [
        ["*", "x/a", false],
        ["x/b", "x/a", true],
      ],
    },
  },
  {
    name: "should enforce policy to allow ingress traffic for a target",
    group: "allow-all and stacking",
    source: "upstream",
    policies: (env) => [
      denyIngressX(env, "deny-all"),
      policy(env, "x", "allow-all-to-a", pod("a"), {
        ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a"],
      expect: [
        ["*", "x/a", true],
        ["*", "x/b", false],
      ],
    },
  },
  {
    name: "should enforce policy to allow ingress traffic from pods in all namespaces",
    group: "namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-from-another-ns", pod("a"), {
        ingress: [{ from: [{ namespaceSelector: { matchLabels: {} } }] }],
      }),
    ],
    probes: tcp(80),
    upstream: { pods: ["x/a", "x/b", "y/a", "z/a"], expect: [] },
  },
  {
    name: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
    group: "namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-ns-selector", pod("a"), {
        ingress: [{ from: [{ namespaceSelector: nsNamed(env, "y") }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a", "z/a"],
      expect: [
        ["x/*", "x/a", false],
        ["z/*", "x/a", false],
      ],
    },
  },
  {
    name: "should enforce policy based on PodSelector with MatchExpressions",
    group: "pod selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "x-a-allows-x-b", pod("a"), {
        ingress: [
          { from: [{ podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b"] }] } }] },
        ],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a"],
      expect: [
        ["*", "x/a", false],
        ["x/b", "x/a", true],
      ],
    },
  },
  {
    name: "should enforce policy based on NamespaceSelector with MatchExpressions",
    group: "namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-ns-y-match-selector", pod("a"), {
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: NAME_LABEL, operator: "In", values: [env.ns("y")] }],
                },
              },
            ],
          },
        ],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a", "z/a"],
      expect: [
        ["x/*", "x/a", false],
        ["z/*", "x/a", false],
      ],
    },
  },
  {
    name: "should enforce policy based on PodSelector or NamespaceSelector",
    group: "pod and namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-ns-y-match-selector", pod("a"), {
        ingress: [{ from: [{ namespaceSelector: nsNotIn(env, "x") }, { podSelector: pod("b") }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "x/c", "y/a"],
      expect: [
        ["x/a", "x/a", false],
        ["x/c", "x/a", false],
      ],
    },
  },
  {
    name: "should enforce policy based on PodSelector and NamespaceSelector",
    group: "pod and namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-ns-y-podselector-and-nsselector", pod("a"), {
        ingress: [{ from: [{ namespaceSelector: nsNotIn(env, "x"), podSelector: pod("b") }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a", "y/b", "z/b"],
      expect: [
        ["*", "x/a", false],
        ["y/b", "x/a", true],
        ["z/b", "x/a", true],
      ],
    },
  },
  {
    name: "should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
    group: "pod and namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-ns-y-z-pod-b-c", pod("a"), {
        ingress: [
          {
            from: [
              {
                namespaceSelector: nsNotIn(env, "x"),
                podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b", "c"] }] },
              },
            ],
          },
        ],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a", "y/b", "y/c"],
      expect: [
        ["x/*", "x/a", false],
        ["y/a", "x/a", false],
      ],
    },
  },
  {
    name: "should enforce policy based on any PodSelectors",
    group: "pod selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-ns-x-pod-b-c", pod("a"), {
        ingress: [{ from: [{ podSelector: pod("b") }, { podSelector: pod("c") }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "x/c"],
      expect: [
        ["*", "x/a", false],
        ["x/b", "x/a", true],
        ["x/c", "x/a", true],
      ],
    },
  },
  ...stackedPolicies(),
  ...[80, 81].map((port): NetpolCase => ({
    name: "should support allow-all policy",
    step: `port ${port}`,
    group: "allow-all and stacking",
    source: "upstream",
    policies: (env) => [policy(env, "x", "allow-all", { matchLabels: {} }, { ingress: [{}] })],
    probes: tcp(port),
    upstream: { pods: ["x/a", "x/b", "y/a"], expect: [] },
  })),
  ...[81, 80].map((port): NetpolCase => ({
    name: "should allow ingress access on one named port",
    step: `port ${port}`,
    group: "named ports",
    source: "upstream",
    policies: (env) => [
      policy(
        env,
        "x",
        "allow-all",
        { matchLabels: {} },
        { ingress: [{ ports: [{ port: "serve-81-tcp" }] }] },
      ),
    ],
    probes: tcp(port),
    upstream: { pods: ["x/a", "x/b", "y/a"], expect: port === 81 ? [] : [["*", "x/*", false]] },
  })),
  ...[80, 81].map((port): NetpolCase => ({
    name: "should allow ingress access from namespace on one named port",
    step: `port ${port}`,
    group: "named ports",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-ns-selector-80", pod("a"), {
        ingress: [
          {
            from: [{ namespaceSelector: nsNamed(env, "y") }],
            ports: [{ port: "serve-80-tcp", protocol: "TCP" }],
          },
        ],
      }),
    ],
    probes: tcp(port),
    upstream: {
      pods: ["x/a", "x/b", "y/a", "z/a"],
      expect:
        port === 80
          ? [
              ["x/*", "x/a", false],
              ["z/*", "x/a", false],
            ]
          : [["*", "x/a", false]],
    },
  })),
  ...[80, 81].map((port): NetpolCase => ({
    name: "should allow egress access on one named port",
    step: `port ${port}`,
    group: "named ports",
    source: "upstream",
    policies: (env) => [
      policy(
        env,
        "x",
        "allow-egress",
        { matchLabels: {} },
        { egress: [{ ports: [{ port: "serve-80-tcp" }] }] },
      ),
    ],
    probes: tcp(port),
    upstream: { pods: ["x/a", "y/a"], expect: port === 80 ? [] : [["x/*", "*", false]] },
  })),
  {
    name: "should enforce updated policy",
    step: "allow all",
    group: "allow-all and stacking",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-all-mutate-to-deny-all", { matchLabels: {} }, { ingress: [{}] }),
    ],
    probes: tcp(81),
    upstream: { pods: ["x/a", "y/a"], expect: [] },
  },
  {
    name: "should enforce updated policy",
    step: "updated to deny all",
    group: "allow-all and stacking",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-all-mutate-to-deny-all", { matchLabels: {} }, { ingress: [] }),
    ],
    probes: tcp(81),
    upstream: { pods: ["x/a", "y/a"], expect: [["*", "x/*", false]] },
  },
  ...[false, true].map((labelled): NetpolCase => ({
    name: "should allow ingress access from updated namespace",
    step: labelled ? "after y gains ns2=updated" : "before the label",
    group: "namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-ns-selector", pod("a"), {
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: "updated" } } }] }],
      }),
    ],
    ...(labelled ? { namespaceLabels: { y: { ns2: "updated" } } } : {}),
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "y/a"],
      expect: labelled
        ? [
            ["*", "x/a", false],
            ["y/*", "*", true],
          ]
        : [["*", "x/a", false]],
    },
  })),
  ...[false, true].map((labelled): NetpolCase => ({
    name: "should allow ingress access from updated pod",
    step: labelled ? "after x/b gains pod2=updated" : "before the label",
    group: "pod selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-pod-selector", pod("a"), {
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: "b", pod2: "updated" } } }] }],
      }),
    ],
    ...(labelled ? { podLabels: { "x/b": { pod2: "updated" } } } : {}),
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b"],
      expect: labelled
        ? [
            ["*", "x/a", false],
            ["x/b", "x/a", true],
          ]
        : [["*", "x/a", false]],
    },
  })),
  {
    name: "should deny ingress from pods on other namespaces",
    group: "default deny",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "deny-empty-policy", all, {
        ingress: [{ from: [{ podSelector: { matchLabels: {} } }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a", "z/a"],
      expect: [
        ["y/*", "x/*", false],
        ["z/*", "x/*", false],
      ],
    },
  },
  ...[false, true].map((labelled): NetpolCase => ({
    name: "should deny ingress access to updated pod",
    step: labelled ? "after x/a gains target=isolated" : "before the label",
    group: "pod selector",
    source: "upstream",
    policies: (env) => [
      policy(
        env,
        "x",
        "deny-ingress-via-label-selector",
        { matchLabels: { target: "isolated" } },
        { ingress: [] },
      ),
    ],
    ...(labelled ? { podLabels: { "x/a": { target: "isolated" } } } : {}),
    probes: tcp(80),
    upstream: { pods: ["x/a", "y/a"], expect: labelled ? [["*", "x/a", false]] : [] },
  })),
  {
    name: "should deny egress from pods based on PodSelector",
    group: "pod selector",
    source: "upstream",
    policies: (env) => [policy(env, "x", "deny-egress-pod-a", pod("a"), { egress: [] })],
    probes: tcp(80),
    upstream: { pods: ["x/a", "x/b", "y/a"], expect: [["x/a", "*", false]] },
  },
  {
    name: "should deny egress from all pods in a namespace",
    group: "default deny",
    source: "upstream",
    policies: (env) => [policy(env, "x", "deny-egress-ns-x", all, { egress: [] })],
    probes: tcp(80),
    upstream: { pods: ["x/a", "x/b", "y/a"], expect: [["x/*", "*", false]] },
  },
  ...[80, 81].map((port): NetpolCase => ({
    name: "should work with Ingress, Egress specified together",
    step: `port ${port}`,
    group: "ports and protocols",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-pod-selector", pod("a"), {
        ingress: [{ from: [{ podSelector: pod("b") }] }],
        egress: [{ ports: [{ port: 80 }] }],
        policyTypes: ["Egress", "Ingress"],
      }),
    ],
    probes: tcp(port),
    upstream: {
      pods: ["x/a", "x/b", "x/c", "y/a"],
      expect:
        port === 80
          ? [
              ["*", "x/a", false],
              ["x/b", "x/a", true],
            ]
          : [
              ["*", "x/a", false],
              ["x/a", "*", false],
              ["x/b", "x/a", true],
            ],
    },
  })),
  {
    name: "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
    group: "pod and namespace selector",
    source: "upstream",
    policies: (env) => {
      const fromXA: Ingress = { from: [{ namespaceSelector: nsNamed(env, "x"), podSelector: pod("a") }] };
      return [
        policy(env, "x", "allow-to-ns-y-pod-a", pod("a"), {
          egress: [{ to: [{ namespaceSelector: nsNamed(env, "y"), podSelector: pod("a") }] }],
        }),
        policy(env, "y", "allow-from-xa-on-ya-match-selector", pod("a"), { ingress: [fromXA] }),
        policy(env, "y", "allow-from-xa-on-yb-match-selector", pod("b"), { ingress: [fromXA] }),
      ];
    },
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "y/a", "y/b"],
      expect: [
        ["x/a", "*", false],
        ["*", "y/a", false],
        ["x/a", "y/a", true],
        ["*", "y/b", false],
      ],
    },
  },
  {
    name: "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
    group: "pod and namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-to-ns-y-pod-a", pod("a"), {
        egress: [{ to: [{ namespaceSelector: nsNamed(env, "y"), podSelector: pod("a") }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "y/a", "y/b"],
      expect: [
        ["x/a", "*", false],
        ["x/a", "y/a", true],
      ],
    },
  },
  ...(["TCP", "UDP"] as const).map((protocol): NetpolCase => ({
    name: "should enforce ingress policy allowing any port traffic to a server on a specific protocol",
    step: protocol,
    group: "ports and protocols",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-ingress-by-proto", pod("a"), { ingress: [{ ports: [{ protocol: "TCP" }] }] }),
    ],
    probes: [{ port: 80, protocol }],
    upstream: { pods: ["x/a", "y/a"], expect: protocol === "TCP" ? [] : [["*", "x/a", false]] },
  })),
  ...[false, true].map((withAllowAll): NetpolCase => ({
    name: "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
    step: withAllowAll ? "with allow-all" : "port 80 only",
    group: "allow-all and stacking",
    source: "upstream",
    policies: (env) => [
      policy(
        env,
        "x",
        "allow-ingress-port-80",
        { matchLabels: {} },
        { ingress: [{ ports: [{ port: 80 }] }] },
      ),
      ...(withAllowAll ? [policy(env, "x", "allow-ingress", { matchLabels: {} }, { ingress: [{}] })] : []),
    ],
    probes: tcp(81),
    upstream: { pods: ["x/a", "y/a"], expect: withAllowAll ? [] : [["*", "x/*", false]] },
  })),
  ...[false, true].map((withAllowAll): NetpolCase => ({
    name: "should enforce multiple egress policies with egress allow-all policy taking precedence",
    step: withAllowAll ? "with allow-all" : "port 80 only",
    group: "allow-all and stacking",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-egress-port-80", { matchLabels: {} }, { egress: [{ ports: [{ port: 80 }] }] }),
      ...(withAllowAll ? [policy(env, "x", "allow-egress", { matchLabels: {} }, { egress: [{}] })] : []),
    ],
    probes: tcp(81),
    upstream: { pods: ["x/a", "y/a"], expect: withAllowAll ? [] : [["x/*", "*", false]] },
  })),
  ...[false, true].map((deleted): NetpolCase => ({
    name: "should stop enforcing policies after they are deleted",
    step: deleted ? "after deletion" : "deny all",
    group: "default deny",
    source: "upstream",
    policies: (env) => (deleted ? [] : [policy(env, "x", "deny-all", all, { ingress: [], egress: [] })]),
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "y/a"],
      expect: deleted
        ? []
        : [
            ["x/*", "*", false],
            ["*", "x/*", false],
          ],
    },
  })),
  {
    name: "should allow egress access to server in CIDR block",
    group: "ipBlock",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-cidr-egress-rule", pod("a"), {
        egress: [{ to: [{ ipBlock: { cidr: `${env.ipOf("y/b")}/32` } }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "y/a", "y/b"],
      expect: [
        ["x/a", "*", false],
        ["x/a", "y/b", true],
      ],
    },
  },
  {
    name: "should enforce except clause while egress access to server in CIDR block",
    group: "ipBlock",
    source: "upstream",
    policies: (env) => [exceptPolicy(env)],
    probes: tcp(80),
    upstream: { pods: ["x/a", "x/b", "x/c"], expect: [["x/a", "x/b", false]] },
  },
  {
    name: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
    step: "except only",
    group: "ipBlock",
    source: "upstream",
    policies: (env) => [exceptPolicy(env)],
    probes: tcp(80),
    upstream: { pods: ["x/a", "x/b", "x/c"], expect: [["x/a", "x/b", false]] },
  },
  {
    name: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
    step: "policy updated to allow x/b's /32",
    group: "ipBlock",
    source: "upstream",
    // Upstream updates the same policy name, so the /32 rule replaces the except rule.
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-cidr-egress-rule", pod("a"), {
        egress: [{ to: [{ ipBlock: { cidr: `${env.ipOf("x/b")}/32` } }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "x/c"],
      expect: [
        ["x/a", "*", false],
        ["x/a", "x/b", true],
      ],
    },
  },
  ...[false, true].map((withDeny): NetpolCase => ({
    name: "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector",
    step: withDeny ? "with deny-ingress" : "allow egress",
    group: "allow-all and stacking",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-egress-for-target", pod("a"), { egress: [{}] }),
      ...(withDeny ? [policy(env, "x", "deny-ingress-via-label-selector", pod("a"), { ingress: [] })] : []),
    ],
    probes: tcp(80),
    upstream: { pods: ["x/a", "x/b", "y/a"], expect: withDeny ? [["*", "x/a", false]] : [] },
  })),
  {
    name: "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
    group: "ports and protocols",
    source: "upstream",
    policies: (env) => [
      denyIngressX(env, "deny-ingress"),
      policy(env, "x", "allow-only-sctp-ingress-on-port-81", pod("a"), { ingress: [{ ports: sctp(81) }] }),
    ],
    probes: tcp(81),
    upstream: { pods: ["x/a", "y/a"], expect: [["*", "x/*", false]] },
  },
  {
    name: "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
    group: "ports and protocols",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-only-sctp-ingress-on-port-80", pod("a"), { ingress: [{ ports: sctp(80) }] }),
    ],
    probes: tcp(81),
    upstream: { pods: ["x/a", "y/a"], expect: [["*", "x/a", false]] },
  },
  {
    name: "should not allow access by TCP when a policy specifies only UDP",
    group: "ports and protocols",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-only-udp-ingress-on-port-81", pod("a"), { ingress: [{ ports: udp(81) }] }),
    ],
    probes: tcp(81),
    upstream: { pods: ["x/a", "y/a"], expect: [["*", "x/a", false]] },
  },
  {
    name: "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label",
    group: "namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-client-a-via-ns-selector-for-immutable-ns-label", pod("a"), {
        ingress: [{ from: [{ namespaceSelector: nsNamed(env, "y") }] }],
      }),
    ],
    probes: tcp(80),
    upstream: {
      pods: ["x/a", "x/b", "y/a", "z/a"],
      expect: [
        ["x/*", "x/a", false],
        ["z/*", "x/a", false],
      ],
    },
  },
  {
    name: "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label",
    group: "namespace selector",
    source: "upstream",
    policies: (env) => [
      policy(env, "x", "allow-ns-y-match-selector-for-immutable-ns-label", pod("a"), {
        egress: [
          {
            to: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: NAME_LABEL, operator: "NotIn", values: [env.ns("y")] }],
                },
              },
            ],
          },
        ],
      }),
    ],
    probes: tcp(80),
    upstream: { pods: ["x/a", "x/b", "y/a", "z/a"], expect: [["x/a", "y/*", false]] },
  },
  // The three cases upstream runs for TCP, UDP ("… using UDP") and SCTP ("… using SCTP").
  ...(["TCP", "UDP", "SCTP"] as const).flatMap(perProtocolCases),
  // Our own cases for what the upstream suite does not exercise.
  {
    name: "endPort: ingress to x/a allowed on the TCP range 80-81 from namespace y",
    group: "ports and protocols",
    source: "aks-ipvlan",
    policies: (env) => [
      policy(env, "x", "range-80-81", pod("a"), {
        ingress: [
          {
            from: [{ namespaceSelector: nsNamed(env, "y") }],
            ports: [{ port: 80, endPort: 81, protocol: "TCP" }],
          },
        ],
      }),
    ],
    probes: [...tcp(80), ...tcp(81), ...udp(80)],
  },
  {
    name: "ipBlock with except on ingress: x/a admits the pod network but y/b's address",
    group: "ipBlock",
    source: "aks-ipvlan",
    policies: (env) => [
      policy(env, "x", "cidr-except-ingress", pod("a"), {
        ingress: [
          { from: [{ ipBlock: { cidr: large(env.ipOf("y/b")), except: [`${env.ipOf("y/b")}/32`] } }] },
        ],
      }),
    ],
    probes: tcp(80),
  },
  {
    name: "matchExpressions Exists / DoesNotExist: x/a admits pods without label pod=… in namespaces that have ns",
    group: "pod and namespace selector",
    source: "aks-ipvlan",
    policies: (env) => [
      policy(env, "x", "exists-doesnotexist", pod("a"), {
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchExpressions: [{ key: "ns", operator: "Exists" }] },
                podSelector: { matchExpressions: [{ key: "pod2", operator: "DoesNotExist" }] },
              },
            ],
          },
        ],
      }),
    ],
    podLabels: { "y/b": { pod2: "updated" } },
    probes: tcp(80),
  },
  {
    name: "egress to a named UDP port resolves against each destination pod",
    group: "named ports",
    source: "aks-ipvlan",
    policies: (env) => [
      policy(env, "y", "egress-serve-81-udp", all, {
        egress: [{ ports: [{ port: "serve-81-udp", protocol: "UDP" }] }],
      }),
    ],
    probes: [...udp(81), ...udp(80), ...tcp(81)],
  },
  {
    name: "policyTypes omitted: a policy with egress rules isolates both directions",
    group: "default deny",
    source: "aks-ipvlan",
    policies: (env) => [
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "implicit-types", namespace: env.ns("z") },
        spec: { podSelector: pod("c"), egress: [{ to: [{ namespaceSelector: nsNamed(env, "z") }] }] },
      },
    ],
    probes: tcp(80),
  },
];

function exceptPolicy(env: CaseEnv): NetworkPolicy {
  return policy(env, "x", "allow-client-a-via-cidr-egress-rule", pod("a"), {
    egress: [{ to: [{ ipBlock: { cidr: large(env.ipOf("x/b")), except: [`${env.ipOf("x/b")}/32`] } }] }],
  });
}

function stackedPolicies(): NetpolCase[] {
  const allow = (env: CaseEnv, name: string, port: number) =>
    policy(env, "x", name, pod("a"), {
      ingress: [{ from: [{ namespaceSelector: nsNamed(env, "y") }], ports: tcp(port) }],
    });
  const allowed: Expectation[] = [
    ["x/*", "x/a", false],
    ["y/*", "x/a", true],
    ["z/*", "x/a", false],
  ];
  const pods: ModelPod[] = ["x/a", "x/b", "y/a", "y/b", "z/a"];
  const name = "should enforce multiple, stacked policies with overlapping podSelectors";
  const base = { name, group: "allow-all and stacking" as const, source: "upstream" as const };
  return [
    {
      ...base,
      step: "port 81 allowed",
      policies: (env) => [allow(env, "allow-client-a-via-ns-selector", 81)],
      probes: tcp(81),
      upstream: { pods, expect: allowed },
    },
    {
      ...base,
      step: "port 80 denied",
      policies: (env) => [allow(env, "allow-client-a-via-ns-selector", 81)],
      probes: tcp(80),
      upstream: { pods, expect: [["*", "x/a", false]] },
    },
    {
      ...base,
      step: "port 80 unblocked by a second policy",
      policies: (env) => [
        allow(env, "allow-client-a-via-ns-selector", 81),
        allow(env, "allow-client-a-via-ns-selector-80", 80),
      ],
      probes: tcp(80),
      upstream: { pods, expect: allowed },
    },
  ];
}

/** The same three cases upstream runs once per protocol; the TCP ones create more pods, other names. */
function perProtocolCases(protocol: Protocol): NetpolCase[] {
  const tcpRun = protocol === "TCP";
  const common = {
    source: "upstream" as const,
    ...(tcpRun ? {} : { step: protocol }),
    ...(protocol === "SCTP" ? { needs: "sctp" as const } : {}),
  };
  const probe = (port: number) => [{ port, protocol }];
  const notFrom = (...namespaces: string[]): Expectation[] =>
    namespaces.map((ns) => [`${ns}/*`, "x/a", false]);
  return [
    {
      ...common,
      name: "should support a 'default-deny-ingress' policy",
      group: "default deny",
      policies: (env) => [denyIngressX(env, tcpRun ? "deny-ingress" : "deny-all")],
      probes: probe(80),
      upstream: { pods: ["x/a", "x/b", "y/a", "y/b"], expect: [["*", "x/*", false]] },
    },
    {
      ...common,
      name: "should enforce policy based on Ports",
      group: "ports and protocols",
      policies: (env) => [
        policy(
          env,
          "x",
          tcpRun ? "allow-client-a-via-ns-selector" : "allow-ingress-on-port-81-ns-x",
          pod("a"),
          {
            ingress: [{ from: [{ namespaceSelector: nsNamed(env, "y") }], ports: [{ port: 81, protocol }] }],
          },
        ),
      ],
      probes: probe(81),
      upstream: tcpRun
        ? {
            pods: ["x/a", "x/b", "y/a", "y/b", "z/a"],
            expect: [...notFrom("x"), ["y/*", "x/a", true], ...notFrom("z")],
          }
        : { pods: ["x/a", "x/b", "y/a", "z/a"], expect: notFrom("x", "z") },
    },
    {
      ...common,
      name: "should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
      group: "pod and namespace selector",
      policies: (env) => [
        policy(env, "x", "allow-ns-y-pod-a-via-namespace-pod-selector", pod("a"), {
          ingress: [{ from: [{ namespaceSelector: nsNamed(env, "y"), podSelector: pod("a") }] }],
        }),
      ],
      probes: probe(80),
      upstream: {
        pods: tcpRun ? ["x/a", "x/b", "y/a", "y/b", "z/a"] : ["x/a", "x/b", "y/a"],
        expect: [
          ["*", "x/a", false],
          ["y/a", "x/a", true],
        ],
      },
    },
  ];
}

/** @public Upstream cases not translated, and why (for readers: no test reads it). */
export const NOT_TRANSLATED: { what: string; why: string }[] = [
  {
    what: "IPv6 and dual-stack variants of the ipBlock cases (hostMask 128)",
    why: "aks-ipvlan is IPv4-only",
  },
  {
    what: "loopback cells (a pod probing itself)",
    why: "upstream ignores them (ignoreLoopback); we always allow a pod to reach itself",
  },
  { what: "the Windows model (TCP only, longer timeouts)", why: "Linux nodes only" },
];
