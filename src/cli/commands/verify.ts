// `aks-ipvlan verify`: the verification suite (the same checks the testbed runs) against the cluster,
// in a namespace of its own that is removed at the end, also on failure or Ctrl-C. Exit 0 only when
// no check failed (a check that does not apply to a real cluster, like NodePort from the internet, is
// reported as not applicable and does not fail the run). With --policies, a few upstream NetworkPolicy
// cases follow in two namespaces of their own (src/verify/policy-cases.ts), each cell compared with
// the reference evaluator.
import type { Command } from "commander";
import { UserError } from "../../errors/user-error.ts";
import {
  EXIT_FAILED,
  EXIT_OK,
  checkOutputFile,
  parseCount,
  parseImageFlag,
  parseSeconds,
  parseUrlFlag,
  runCommand,
  withClusterOptions,
} from "../command.ts";
import type { Cluster, ClusterFlags } from "../../kube/cluster.ts";
import { wrongCellLines, type PolicyCaseResult } from "../../verify/policy-suite.ts";
import { formatTable, printJson } from "../output.ts";
import { allPassed, failureLines, formatChecks } from "../check-report.ts";
import { CHECK_IDS } from "../../verify/checks.ts";

interface Flags extends ClusterFlags {
  config?: string;
  json?: boolean;
  junit?: string;
  imageBusybox: string;
  imageNginx: string;
  echoUrl: string;
  dnsName: string;
  nodes?: string;
  timeout: string;
  parallel: string;
  policies?: boolean;
  policySettle: string;
}

export function register(program: Command): void {
  withClusterOptions(
    program
      .command("verify")
      .description("run the verification suite in the cluster (test pods in a namespace removed afterwards)")
      .option("--config <file>", "cluster spec: checks it turns off (metadataAccess.imds: allow) are skipped")
      .option("--json", "print the results as JSON")
      .option("--junit <file>", "also write the results as JUnit XML (for CI)")
      .option(
        "--image-busybox <image>",
        "client and node-debug image (for private registries)",
        "busybox:1.36",
      )
      .option("--image-nginx <image>", "HTTP server image", "nginx:1.27")
      .option("--echo-url <url>", "an internet URL the egress check fetches", "http://www.google.com/")
      .option(
        "--dns-name <name>",
        "a name the DNS check resolves through kube-dns and Azure DNS",
        "google.com",
      )
      .option(
        "--nodes <a,b>",
        "the node for the client and a second node (default: the first two Ready nodes)",
      )
      .option("--timeout <seconds>", "how long a pod or service may take to be ready", "180")
      .option("--parallel <n>", "how many independent checks run at once", "4")
      .option(
        "--policies",
        "also run upstream NetworkPolicy cases in two scratch namespaces (needs agent.policy.enabled)",
      )
      .option(
        "--policy-settle <seconds>",
        "how long a probe may disagree with the policy after it is created (agents need a moment)",
        "30",
      ),
  ).action((flags: Flags) => runCommand(() => verifyCommand(flags)));
}

async function verifyCommand(flags: Flags): Promise<number> {
  // Every flag is checked before the cluster is opened: bad input is exit 2, whatever the cluster.
  const timeoutMs = parseSeconds("--timeout", flags.timeout);
  const nodes = parseNodes(flags.nodes);
  const settleMs = parseSeconds("--policy-settle", flags.policySettle);
  const concurrency = parseCount("--parallel", flags.parallel);
  parseImageFlag("--image-busybox", flags.imageBusybox);
  parseImageFlag("--image-nginx", flags.imageNginx);
  parseUrlFlag("--echo-url", flags.echoUrl);
  if (flags.junit !== undefined) await checkOutputFile("--junit", flags.junit);
  const [
    { openCluster },
    { withScratchNamespace },
    { kubeDriver },
    { runSuite },
    { startProgress },
    { junitXml },
  ] = await Promise.all([
    import("../../kube/cluster.ts"),
    import("../../kube/scratch-namespace.ts"),
    import("../../verify/kube-driver.ts"),
    import("../../verify/suite.ts"),
    import("../progress.ts"),
    import("../../verify/junit.ts"),
  ]);
  const spec = flags.config ? await (await import("../../spec/load.ts")).loadSpec(flags.config) : undefined;
  // A spec that lets pods reach IMDS makes "IMDS closed" a check of something nobody wants.
  const only =
    spec?.metadataAccess.imds === "allow" ? CHECK_IDS.filter((id) => id !== "imds-closed") : undefined;
  const expectedMtu = spec && (await import("../../spec/mtu.ts")).podMtu(spec);
  const cluster = openCluster(flags);
  const results = await withScratchNamespace(
    cluster.api,
    "aks-ipvlan-verify",
    (namespace, runId) =>
      runSuite(
        kubeDriver({
          api: cluster.api,
          exec: cluster.exec,
          name: cluster.name,
          namespace,
          images: { busybox: flags.imageBusybox, nginx: flags.imageNginx },
          echoUrl: flags.echoUrl,
          dnsName: flags.dnsName,
          timeoutMs,
          progress: (label) => startProgress(process.stderr, label),
        }),
        {
          runId,
          concurrency,
          ...(nodes ? { nodes } : {}),
          ...(only ? { only } : {}),
          ...(expectedMtu === undefined ? {} : { podMtu: expectedMtu }),
        },
      ),
    { onDeleted: (namespace) => process.stderr.write(`deleted namespace ${namespace}\n`) },
  );
  const policies = flags.policies
    ? await runPolicies(flags, cluster, nodes, { timeoutMs, settleMs })
    : undefined;
  if (flags.junit) {
    const { writeFileAtomic } = await import("../../sys/atomic-write.ts");
    await writeFileAtomic(flags.junit, junitXml(`aks-ipvlan verify (${cluster.name})`, results));
  }
  if (flags.json) printJson({ cluster: cluster.name, results, ...(policies ? { policies } : {}) });
  else {
    const column = { label: cluster.name, results };
    process.stdout.write(`${[formatChecks([column]), ...failureLines(column)].join("\n")}\n`);
    if (policies) process.stdout.write(`\n${policyLines(policies).join("\n")}\n`);
  }
  const policiesPassed = !policies || policies.every((result) => result.wrong.length === 0);
  return allPassed(results) && policiesPassed ? EXIT_OK : EXIT_FAILED;
}

/** The policy cases in two scratch namespaces of their own (x and y of the model), both removed after. */
async function runPolicies(
  flags: Flags,
  cluster: Cluster,
  nodes: [string, string?] | undefined,
  { timeoutMs, settleMs }: { timeoutMs: number; settleMs: number },
): Promise<PolicyCaseResult[]> {
  const [{ withScratchNamespace }, { kubeDriver }, { policyKubeCluster }, { runPolicyCases }] =
    await Promise.all([
      import("../../kube/scratch-namespace.ts"),
      import("../../verify/kube-driver.ts"),
      import("../../verify/policy-kube.ts"),
      import("../../verify/policy-suite.ts"),
    ]);
  const onDeleted = (namespace: string) => process.stderr.write(`deleted namespace ${namespace}\n`);
  return withScratchNamespace(
    cluster.api,
    "aks-ipvlan-policy-x",
    (x) =>
      withScratchNamespace(
        cluster.api,
        "aks-ipvlan-policy-y",
        async (y) => {
          const ready = await kubeDriver({
            api: cluster.api,
            exec: cluster.exec,
            name: cluster.name,
            namespace: x,
            images: { busybox: flags.imageBusybox, nginx: flags.imageNginx },
            echoUrl: flags.echoUrl,
            dnsName: flags.dnsName,
            timeoutMs,
          }).nodes();
          const chosen = nodes ? nodes.flatMap((name) => ready.filter((node) => node.name === name)) : ready;
          const policyCluster = policyKubeCluster({
            api: cluster.api,
            exec: cluster.exec,
            namespaces: { x, y },
            busybox: flags.imageBusybox,
            timeoutMs,
          });
          return runPolicyCases(policyCluster, chosen.slice(0, 2), { settleMs, retryMs: 1000 });
        },
        { onDeleted },
      ),
    { onDeleted },
  );
}

function policyLines(results: readonly PolicyCaseResult[]): string[] {
  const rows = results.map((result) => [
    result.name,
    `${result.cells} (${result.sameNode} same node, ${result.crossNode} across)`,
    result.denied,
    result.wrong.length === 0 ? "pass" : `FAIL ${result.wrong.length}`,
    result.settledMs === undefined ? "-" : `${(result.settledMs / 1000).toFixed(1)}s`,
  ]);
  return [
    formatTable(["NetworkPolicy case (upstream)", "cells", "denied", "wrong", "settled"], rows).trimEnd(),
    ...wrongCellLines(results),
  ];
}

function parseNodes(text: string | undefined): [string, string?] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(",").map((name) => name.trim());
  if (names.length > 2 || !names[0]) {
    throw new UserError([
      {
        path: "--nodes",
        value: text,
        message: "expected one or two node names",
        fix: "e.g. --nodes aks-nodepool1-0,aks-nodepool1-1",
      },
    ]);
  }
  return names[1] ? [names[0], names[1]] : [names[0]];
}
