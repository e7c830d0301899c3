// The native runner on a kernel that has ipvlan when the host's lacks it (run by
// test/e2e/runners.test.ts inside a UML guest): this program, on the guest's kernel, starts the native
// runner's private namespaces with the real guest program and job, and hands its results back.
import { dirname, join } from "node:path";
import { loadSpec } from "../../src/spec/load.ts";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { RESULT_FILE, SuiteJobSchema, SuiteResultSchema, readJsonFile } from "../../src/testbed/job.ts";
import { runInGuest } from "../../src/testbed/run.ts";
import { REPO } from "../../src/testbed/runners/runner.ts";
import type { NativeInGuest } from "./runner-results.ts";

const jobFile = process.argv[2]!;
let outcome: NativeInGuest;
try {
  const { specFile, ...job } = await readJsonFile(jobFile, SuiteJobSchema);
  const run = await runInGuest({
    // Bundled by the host with this program (runners.test.ts): a bundle cannot locate itself.
    entry: join(REPO, "src/testbed/guest/main.ts"),
    spec: await loadSpec(specFile),
    job,
    schema: SuiteResultSchema,
    runner: "native",
    timeoutMs: 18 * 60_000,
    onLine: (line) => process.stdout.write(`native: ${line}\n`),
  });
  outcome = { runner: run.runner, kernel: run.kernel, bootMs: run.bootMs, suite: run.result };
} catch (error) {
  outcome = { error: (error as Error).stack ?? String(error) };
}
await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(outcome)}\n`);
