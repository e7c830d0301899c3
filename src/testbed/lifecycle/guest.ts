// The guest's side of a lifecycle job (one boot; guest/main.ts hands it every job of this kind):
// reads the job, runs the scenario (scenario.ts) and writes its result back for the host.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { loadSpec } from "../../spec/load.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { RESULT_FILE, readJsonFile } from "../job.ts";
import { LIFECYCLE_KIND, LifecycleJobSchema } from "./job.ts";

/** Runs the job in `jobFile` if it is a lifecycle job; false for any other job. */
export async function runLifecycleJob(jobFile: string): Promise<boolean> {
  const kind: unknown = JSON.parse(await readFile(jobFile, "utf8"))?.kind;
  if (kind !== LIFECYCLE_KIND) return false;
  const job = await readJsonFile(jobFile, LifecycleJobSchema);
  // Loaded only for this job: the other jobs' guests do not read the API clients through hostfs.
  const { runLifecycle } = await import("./scenario.ts");
  const result = await runLifecycle(await loadSpec(job.specFile), job.kubeBin, "/run/lifecycle", (line) =>
    process.stdout.write(`testbed: ${line}\n`),
  );
  await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
  // The API clients' keep-alive sockets would hold the process; the scenario has stopped everything.
  process.exit(0);
}
