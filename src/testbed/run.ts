// The host side of one testbed run: a fresh run directory under .testbed/ (the only host directory the
// guest and the UML kernel write), the job and the spec in it, one boot, and the guest's results read
// back.
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ClusterSpecInput } from "../spec/schema.ts";
import { writeFileAtomic } from "../sys/atomic-write.ts";
import { bootGuest, cannotBoot } from "./uml.ts";
import { JOB_FILE, RESULT_FILE } from "./job.ts";

export const RUNS_DIR = resolve(import.meta.dirname, "../../.testbed");

export interface GuestRun<Result> {
  result: Result;
  console: string;
  bootMs: number;
}

export class TestbedError extends Error {
  readonly console: string;

  constructor(message: string, console = "") {
    super(message);
    this.name = "TestbedError";
    this.console = console;
  }
}

/**
 * Writes `spec` and `job` (whose `specFile` is filled in) to a new run directory, boots the guest with
 * `entry`, and returns what the guest wrote to result.json.
 */
export async function runInGuest<Job extends object, Result>(options: {
  entry: string;
  spec: ClusterSpecInput;
  job: Job;
  timeoutMs: number;
  onLine?: (line: string) => void;
  keep?: boolean;
}): Promise<GuestRun<Result>> {
  const problem = await cannotBoot();
  if (problem) throw new TestbedError(`User-Mode Linux cannot boot here: ${problem}`);
  await mkdir(RUNS_DIR, { recursive: true });
  // Unique also for runs started at once by parallel test workers.
  const dir = await mkdtemp(join(RUNS_DIR, "run-"));
  try {
    const specFile = join(dir, "spec.yaml");
    // JSON is YAML: the node agent reads this file like any spec.
    await writeFileAtomic(specFile, `${JSON.stringify(options.spec, null, 2)}\n`);
    await writeFileAtomic(join(dir, JOB_FILE), `${JSON.stringify({ ...options.job, specFile }, null, 2)}\n`);
    const started = performance.now();
    const boot = await bootGuest({
      entry: options.entry,
      job: join(dir, JOB_FILE),
      umlDir: dir,
      timeoutMs: options.timeoutMs,
      ...(options.onLine ? { onLine: options.onLine } : {}),
    });
    const bootMs = Math.round(performance.now() - started);
    const text = await readFile(join(dir, RESULT_FILE), "utf8").catch(() => undefined);
    if (text === undefined) {
      throw new TestbedError(
        `the guest wrote no results (kernel exit ${boot.code}${bootMs >= options.timeoutMs ? ", timed out" : ""}); console tail:\n${boot.console.split("\n").slice(-40).join("\n")}`,
        boot.console,
      );
    }
    return { result: JSON.parse(text) as Result, console: boot.console, bootMs };
  } finally {
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
}
