// What verify and demo print: the suite's results as a table, one row per check and one result column
// per run (e.g. this product and the seed's configuration side by side), and the failures' reasons.
import type { CheckResult, CheckStatus } from "../verify/checks.ts";
import { formatTable } from "./output.ts";

export interface Column {
  label: string;
  results: CheckResult[];
}

const MARK: Record<CheckStatus, string> = { pass: "pass", fail: "FAIL", "not-applicable": "n/a" };

export function formatChecks(columns: readonly Column[]): string {
  const first = columns[0];
  if (!first) return "";
  const rows = first.results.map((result) => [
    result.title,
    result.nodes,
    ...columns.map((column) => {
      const match = column.results.find((other) => other.id === result.id);
      return match ? `${MARK[match.status]} ${(match.durationMs / 1000).toFixed(1)}s` : "-";
    }),
  ]);
  return formatTable(["check", "nodes", ...columns.map((column) => column.label)], rows).trimEnd();
}

/** The failed checks' reasons, for the lines under the table. */
export function failureLines(column: Column): string[] {
  return column.results
    .filter((result) => result.status === "fail")
    .map((result) => `${column.label}: ${result.id}: ${result.reason}`);
}

export function allPassed(results: readonly CheckResult[]): boolean {
  return results.length > 0 && results.every((result) => result.status !== "fail");
}
