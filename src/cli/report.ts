// What install and uninstall print: one line per object in kubectl's words ("created", "configured",
// "unchanged"), then the state of the nodes. Pure.
import { describeRef } from "../kube/apply.ts";
import type { InstallReport } from "../kube/install.ts";
import type { UninstallReport } from "../kube/uninstall.ts";

export function installText(report: InstallReport, dryRun: boolean): string {
  const suffix = dryRun ? " (server dry run)" : "";
  const lines = report.applied.map((applied) => `${describeRef(applied.ref)} ${applied.change}${suffix}`);
  const changed = report.applied.filter((applied) => applied.change !== "unchanged").length;
  lines.push(
    changed === 0
      ? "nothing to change"
      : `${changed} of ${report.applied.length} objects ${dryRun ? "would change" : "changed"}`,
  );
  if (report.agent) lines.push(`agent: ${report.agent}`);
  lines.push(`CoreDNS: ${report.coreDns}`);
  return `${lines.join("\n")}\n`;
}

export function uninstallText(report: UninstallReport): string {
  const lines = report.cleanup.map(
    (node) => `node ${node.node}: ${node.outcome}${node.detail ? ` (${node.detail})` : ""}`,
  );
  for (const removed of report.removed) {
    lines.push(`${removed.object} ${removed.existed ? "deleted" : "not found"}`);
  }
  if (!report.namespaceGone)
    lines.push("the namespace is still terminating; Kubernetes finishes that on its own");
  const failed = report.cleanup.filter((node) => node.outcome !== "cleaned");
  if (failed.length > 0) {
    lines.push(
      `${failed.length} node(s) not cleaned: they keep our conflist, chains and host device until` +
        " uninstall is rerun while they are Ready (or the node is replaced)",
    );
  }
  return `${lines.join("\n")}\n`;
}
