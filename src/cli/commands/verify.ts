// `aks-ipvlan verify`: the verification suite (the same checks the testbed runs) against the cluster,
// in a namespace of its own that is removed at the end, also on failure or Ctrl-C. Exit 0 only when
// no check failed (a check that does not apply to a real cluster, like NodePort from the internet, is
// reported as not applicable and does not fail the run).
import type { Command } from "commander";
import { UserError } from "../../errors/user-error.ts";
import {
  EXIT_FAILED,
  EXIT_OK,
  parseCount,
  parseSeconds,
  runCommand,
  withClusterOptions,
} from "../command.ts";
import type { ClusterFlags } from "../../kube/cluster.ts";
import { printJson } from "../output.ts";
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
      .option("--parallel <n>", "how many independent checks run at once", "4"),
  ).action((flags: Flags) => runCommand(() => verifyCommand(flags)));
}

async function verifyCommand(flags: Flags): Promise<number> {
  const timeoutMs = parseSeconds("--timeout", flags.timeout);
  const nodes = parseNodes(flags.nodes);
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
          concurrency: parseCount("--parallel", flags.parallel),
          ...(nodes ? { nodes } : {}),
          ...(only ? { only } : {}),
        },
      ),
    { onDeleted: (namespace) => process.stderr.write(`deleted namespace ${namespace}\n`) },
  );
  if (flags.junit) {
    const { writeFileAtomic } = await import("../../sys/atomic-write.ts");
    await writeFileAtomic(flags.junit, junitXml(`aks-ipvlan verify (${cluster.name})`, results));
  }
  if (flags.json) printJson({ cluster: cluster.name, results });
  else {
    const column = { label: cluster.name, results };
    process.stdout.write(`${[formatChecks([column]), ...failureLines(column)].join("\n")}\n`);
  }
  return allPassed(results) ? EXIT_OK : EXIT_FAILED;
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
