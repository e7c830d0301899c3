// Benchmark: NetworkPolicy compilation for one node with 100 pods and 100 policies (issue 12 target:
// policy change → enforcement < 1 s; this is the pure part of it). Prints the time to compile every
// pod's payload, one pod's, the node's rules, and the payload sizes. Run: node --expose-gc bench/policy.ts [pods] [policies]
import { performance } from "node:perf_hooks";
import { compilePodFirewall, compilePodFirewalls } from "../src/policy/pod-firewall.ts";
import { compileNodeRules } from "../src/policy/node-rules.ts";
import type { NetworkPolicy, PolicyPod, PolicyWorld } from "../src/policy/model.ts";

const podCount = Number(process.argv[2] ?? 100);
const policyCount = Number(process.argv[3] ?? 100);
const namespaces = Array.from({ length: 10 }, (_, index) => ({
  name: `team-${index}`,
  labels: { "kubernetes.io/metadata.name": `team-${index}`, tier: index % 2 ? "backend" : "frontend" },
}));
const pods: PolicyPod[] = Array.from({ length: podCount }, (_, index) => ({
  namespace: namespaces[index % namespaces.length]!.name,
  name: `pod-${index}`,
  ip: `10.244.${Math.floor(index / 250)}.${(index % 250) + 2}`,
  node: "node-0",
  labels: { app: `app-${index % 20}`, role: index % 3 ? "server" : "client" },
  ports: [
    { name: "http", port: 8080, protocol: "TCP" },
    { name: "metrics", port: 9090, protocol: "TCP" },
  ],
}));

/** A mix like real clusters': default denies, app-to-app allows with ports, cross-namespace, CIDRs, egress. */
function makePolicy(index: number): NetworkPolicy {
  const namespace = namespaces[index % namespaces.length]!.name;
  const app = `app-${index % 20}`;
  const kinds: NetworkPolicy["spec"][] = [
    { podSelector: {}, policyTypes: ["Ingress"] },
    {
      podSelector: { matchLabels: { app } },
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { role: "client" } } }],
          ports: [{ port: "http" }, { port: 9090 }],
        },
      ],
    },
    {
      podSelector: { matchLabels: { app } },
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { tier: "frontend" } },
              podSelector: {
                matchExpressions: [{ key: "role", operator: "In", values: ["client", "server"] }],
              },
            },
          ],
        },
      ],
    },
    {
      podSelector: { matchLabels: { app } },
      ingress: [
        {
          from: [
            { ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] } },
          ],
          ports: [{ port: 443 }],
        },
      ],
    },
    {
      podSelector: { matchLabels: { role: "client" } },
      policyTypes: ["Egress"],
      egress: [
        { to: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: "UDP" }, { port: 53 }] },
        { to: [{ podSelector: { matchLabels: { app } } }], ports: [{ port: "http" }] },
      ],
    },
  ];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: `policy-${index}`, namespace },
    spec: kinds[index % kinds.length]!,
  };
}

const world: PolicyWorld = {
  pods,
  namespaces,
  policies: Array.from({ length: policyCount }, (_, index) => makePolicy(index)),
};
const POD_CIDRS = ["10.244.0.0/16"];
const options = { nodeIPOf: () => "10.224.0.4", podCIDRsOf: () => POD_CIDRS, serviceCIDR: "10.0.0.0/16" };
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;

// Warm up the JIT the way a running agent is warm.
for (let round = 0; round < 3; round++) compilePodFirewalls(world, pods, options);

const timed = <T>(run: () => T): [T, number] => {
  const started = performance.now();
  const result = run();
  return [result, performance.now() - started];
};
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const allRuns = Array.from({ length: 10 }, () => timed(() => compilePodFirewalls(world, pods, options)));
const firewalls = allRuns[0]![0];
const onePod = median(
  Array.from(
    { length: 20 },
    () => timed(() => compilePodFirewall(world, pods[7]!, { nodeIP: "10.224.0.4", podCIDRs: POD_CIDRS }))[1],
  ),
);
const nodeRules = median(
  Array.from({ length: 10 }, () => timed(() => compileNodeRules(world, pods, { nodeIP: "10.224.0.4" }))[1]),
);
const node = compileNodeRules(world, pods, { nodeIP: "10.224.0.4" });

const payloads = [...firewalls.values()];
const rules = payloads.map((firewall) => firewall.ruleCount).sort((a, b) => a - b);
const bytes = payloads.reduce((sum, firewall) => sum + firewall.restore.length, 0);
console.log(`policy compile: ${podCount} pods, ${policyCount} policies, one node`);
console.log(`  all pods' payloads          ${ms(median(allRuns.map(([, time]) => time)))} (median of 10)`);
console.log(`  one pod's payload           ${ms(onePod)} (median of 20, indexes the world each time)`);
console.log(`  node rules                 ${ms(nodeRules)} (${node.ruleCount} rules)`);
console.log(
  `  rules per pod               min ${rules[0]} / median ${median(rules)} / max ${rules.at(-1)}; ` +
    `${payloads.filter((firewall) => firewall.ingressIsolated || firewall.egressIsolated).length} pods isolated; ${(bytes / 1024).toFixed(0)} KiB of payload`,
);
