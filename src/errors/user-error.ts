// User errors: every problem with the input, each naming the field, the value and the fix.
// The CLI prints them without a stack trace and exits 2; nothing has been written when one is thrown.

export interface Finding {
  /** Dotted path of the field, e.g. "nodes[1].block" or "plugins[0].ipam.ranges". */
  path: string;
  value?: unknown;
  message: string;
  fix: string;
}

export class UserError extends Error {
  readonly findings: Finding[];

  constructor(findings: Finding[]) {
    super(findings.map(formatFinding).join("\n"));
    this.name = "UserError";
    this.findings = findings;
  }
}

export function formatFinding(finding: Finding): string {
  const value = finding.value === undefined ? "" : ` (got ${JSON.stringify(finding.value)})`;
  return `${finding.path || "<root>"}: ${finding.message}${value}\n  fix: ${finding.fix}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, "");
}

/** The value at a zod issue's path in the input, to show it in the finding. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      node && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined,
    root,
  );
}
