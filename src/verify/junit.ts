// The verification results as JUnit XML, the format CI systems show as test reports: one testcase
// per check, a failure for a failed check, skipped for one that does not apply. Pure.
import type { CheckResult } from "./checks.ts";

export function junitXml(suite: string, results: readonly CheckResult[]): string {
  const failures = results.filter((result) => result.status === "fail").length;
  const skipped = results.filter((result) => result.status === "not-applicable").length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = results.reduce((sum, result) => sum + result.durationMs, 0);
  const cases = results.map((result) => {
    const evidence = result.evidence
      .map((e) => `${e.where}$ ${e.argv.join(" ")}\nexit ${e.code} (${e.durationMs} ms)\n${e.output}`)
      .join("\n\n");
    const body =
      result.status === "fail"
        ? `\n      <failure message="${escape(result.reason)}">${escape(evidence)}</failure>\n    `
        : result.status === "not-applicable"
          ? `\n      <skipped message="${escape(result.reason)}"/>\n    `
          : `\n      <system-out>${escape(`${result.reason}\n\n${evidence}`)}</system-out>\n    `;
    return `    <testcase classname="${escape(suite)}" name="${escape(`${result.id}: ${result.title} (${result.nodes})`)}" time="${seconds(result.durationMs)}">${body}</testcase>`;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites tests="${results.length}" failures="${failures}" skipped="${skipped}" time="${seconds(total)}">`,
    `  <testsuite name="${escape(suite)}" tests="${results.length}" failures="${failures}" skipped="${skipped}" time="${seconds(total)}">`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    ``,
  ].join("\n");
}

function escape(text: string): string {
  return (
    text
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      // Characters XML 1.0 cannot carry at all (command output may hold them).
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "?")
  );
}
