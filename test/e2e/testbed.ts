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
  const { result } = await runInGuest({
    entry: GUEST_ENTRY,
    spec,
    job,
    schema: SuiteResultSchema,
    timeoutMs: BOOT_TIMEOUT_MS,
    onLine: timedLines("testbed: "),
  });
  if (result.error) throw new Error(`the guest failed: ${result.error}`);
  return result;
}

/** Prints the guest's own lines (those starting with `prefix`) with the seconds since the boot began. */
export function timedLines(prefix: string): (line: string) => void {
  const started = performance.now();
  return (line) => {
    if (line.startsWith(prefix))
      console.log(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);
  };
}

export function statusOf(results: readonly CheckResult[], id: CheckId): string {
  const result = results.find((candidate) => candidate.id === id);
  if (!result) return "missing";
  return result.status === "pass" ? "pass" : `${result.status}: ${result.reason}`;
}
