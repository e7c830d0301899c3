// `aks-ipvlan doctor`: the seed's Troubleshooting as findings with fixes, read from the cluster, each
// agent's /status and (with a spec naming a route table) Azure. Exit 1 when any finding is an error.
import type { Command } from "commander";
import { EXIT_FAILED, EXIT_OK, runCommand, withClusterOptions } from "../command.ts";
import type { ClusterFlags } from "../../kube/cluster.ts";
import { formatTable, printJson, useColour } from "../output.ts";
import type { DoctorFinding } from "../../doctor/diagnose.ts";
import type { RouteTableRef } from "../../azure/arm-client.ts";

interface Flags extends ClusterFlags {
  json?: boolean;
  config?: string;
}

export function register(program: Command): void {
  withClusterOptions(
    program
      .command("doctor")
      .description("check the installation on every node and say how to fix what is wrong")
      .option("--config <file>", "cluster spec: also compare conflists and Azure routes with it")
      .option("--json", "print the findings as JSON"),
  ).action((flags: Flags) => runCommand(() => doctorCommand(flags)));
}

async function doctorCommand(flags: Flags): Promise<number> {
  const [{ loadSpec }, { openCluster }, { gatherFacts }, { diagnose, hasErrors }] = await Promise.all([
    import("../../spec/load.ts"),
    import("../../kube/cluster.ts"),
    import("../../doctor/gather.ts"),
    import("../../doctor/diagnose.ts"),
  ]);
  const spec = flags.config ? await loadSpec(flags.config) : undefined;
  const { api, exec } = openCluster(flags);
  const findings = diagnose(
    await gatherFacts({ api, exec, ...(spec ? { spec } : {}), routeTable: readRoutes }),
  );
  if (flags.json) printJson(findings);
  else process.stdout.write(findingsTable(findings, useColour()));
  return hasErrors(findings) ? EXIT_FAILED : EXIT_OK;
}

// The Azure SDK loads only when a spec names a route table.
async function readRoutes(ref: RouteTableRef) {
  const [{ networkClient }, { ArmRouteTable }] = await Promise.all([
    import("../../azure/arm-client.ts"),
    import("../../azure/route-table.ts"),
  ]);
  return new ArmRouteTable(networkClient(ref.subscriptionId), ref).list();
}

export function findingsTable(findings: readonly DoctorFinding[], colour: boolean): string {
  return formatTable(
    ["SEVERITY", "CHECK", "SUBJECT", "FINDING", "FIX"],
    findings.map((f) => [f.severity, f.check, f.subject, f.message, f.fix ?? ""]),
    colour,
  );
}
