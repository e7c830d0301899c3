// Output helpers shared by the commands: aligned tables, JSON, findings; colour only on a terminal.
import { type Finding, formatFinding } from "../errors/user-error.ts";

/** Colour only when writing to a terminal and NO_COLOR is unset (https://no-color.org). */
export function useColour(stream: { isTTY?: boolean } = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

function paint(text: string, style: "bold" | "red" | "yellow", colour: boolean): string {
  if (!colour) return text;
  const code = { bold: 1, red: 31, yellow: 33 }[style];
  return `\u001b[${code}m${text}\u001b[0m`;
}

/** Columns padded to their widest cell; the header bold when `colour`. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  colour = false,
): string {
  const cells = [headers, ...rows].map((row) => row.map(String));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  const [head, ...body] = cells;
  return [paint(line(head!), "bold", colour), ...body.map(line)].join("\n") + "\n";
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One finding as "severity path: message (got value)\n  fix: ...". */
export function formatSeverityFinding(
  severity: "error" | "warning",
  finding: Finding,
  colour = false,
): string {
  return `${paint(severity, severity === "error" ? "red" : "yellow", colour)} ${formatFinding(finding)}\n`;
}
