// Shared by the e2e tests: one guest boot that builds the emulated AKS from a spec (file) and runs the
// suite for the given profiles (and the negative controls), returning the guest's results. The kernel
// comes from the runner AKS_IPVLAN_RUNNER names (auto|native|uml|qemu; default auto, as in CI).
import { resolve } from "node:path";
import type { ClusterSpecInput } from "../../src/spec/schema.ts";
import { runInGuest } from "../../src/testbed/run.ts";
import { SuiteResultSchema, type SuiteJob, type SuiteResult } from "../../src/testbed/job.ts";
import type { CheckId, CheckResult } from "../../src/verify/checks.ts";

const GUEST_ENTRY = resolve(import.meta.dirname, "../../src/testbed/guest/main.ts");
/** Generous: the CI machine may be slow and shared; a normal run takes about a minute. */
export const BOOT_TIMEOUT_MS = 12 * 60_000;

export async function runTestbedSpec(
  spec: ClusterSpecInput,
  job: Omit<SuiteJob, "specFile">,
): Promise<SuiteResult> {
  const lines = timedLines("testbed: ");
  const { result } = await runInGuest({
    entry: GUEST_ENTRY,
    spec,
    job,
    schema: SuiteResultSchema,
    timeoutMs: BOOT_TIMEOUT_MS,
    onLine: lines.onLine,
  }).finally(lines.print);
  if (result.error) throw new Error(`the guest failed: ${result.error}`);
  return result;
}

/**
 * The guest's own lines (those starting with `prefix`), each with the seconds since the boot began,
 * printed in one piece by `print` (vitest heads every console.log of a test with its name).
 */
export function timedLines(prefix: string): { onLine: (line: string) => void; print: () => void } {
  const started = performance.now();
  const lines: string[] = [];
  return {
    onLine: (line) => {
      if (line.startsWith(prefix))
        lines.push(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);
    },
    print: () => console.log(lines.join("\n")),
  };
}

export function statusOf(results: readonly CheckResult[], id: CheckId): string {
  const result = results.find((candidate) => candidate.id === id);
  if (!result) return "missing";
  return result.status === "pass" ? "pass" : `${result.status}: ${result.reason}`;
}
