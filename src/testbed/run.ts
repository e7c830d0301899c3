// The host side of one testbed run: a fresh run directory under .testbed/ (the only host directory the
// guest and its kernel write), the job and the spec in it, one boot with the chosen runner, and the
// guest's results read back and validated.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import type { ClusterSpecInput } from "../spec/schema.ts";
import { writeFileAtomic } from "../sys/atomic-write.ts";
import { JOB_FILE, RESULT_FILE, SUITE_STARTS, readJsonFile } from "./job.ts";
import { NoRunnerError, chooseRunner, type Refusal } from "./runners/auto.ts";
import {
  INIT,
  REPO,
  RunnerChoice,
  unreadable,
  type KernelRunner,
  type RunnerName,
} from "./runners/runner.ts";
import { prepareGuestPrograms } from "./bundle.ts";

export const RUNS_DIR = join(REPO, ".testbed");
/** Chooses the runner of the e2e tests and benches (auto|native|uml|qemu); default auto. */
const RUNNER_VARIABLE = "AKS_IPVLAN_RUNNER";
const KERNEL_UP = /^testbed: kernel up: (\S+) (\S+)$/;
/** init.sh's last line, with the guest program's exit code. */
const GUEST_FINISHED = /^testbed: guest finished with exit code (\d+)$/m;

export interface GuestRun<Result> {
  result: Result;
  console: string;
  runner: RunnerName;
  /** The guest kernel's release, as init saw it. */
  kernel: string;
  /** Runner start → init ready to start the guest program (kernel boot, mounts, modules). */
  bootMs: number;
  /** Runner start → the guest program's first check (guest/main.ts; undefined for other programs). */
  firstCheckMs?: number;
  /** Runner start → the kernel exited. */
  totalMs: number;
  /** Bundling the guest's programs on the host, before the boot. */
  bundleMs: number;
  /** The runners auto passed over, each with why. */
  passedOver: Refusal[];
}

export class TestbedError extends Error {
  readonly console: string;

  constructor(message: string, console = "") {
    super(message);
    this.name = "TestbedError";
    this.console = console;
  }
}

/** The runner the environment asks for (AKS_IPVLAN_RUNNER), auto when unset. */
export function runnerFromEnvironment(): RunnerChoice {
  const value = process.env[RUNNER_VARIABLE] ?? "auto";
  const parsed = RunnerChoice.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      `${RUNNER_VARIABLE}=${value} is not a runner; use one of ${RunnerChoice.options.join(", ")}`,
    );
  }
  return parsed.data;
}

async function checkedRunner(runner: KernelRunner): Promise<{ runner: KernelRunner; passedOver: [] }> {
  const reason = await runner.refusal();
  if (reason !== undefined) throw new NoRunnerError([{ runner: runner.name, reason }]);
  return { runner, passedOver: [] };
}

/**
 * Writes `spec` and `job` (whose `specFile` is filled in) to a new run directory, boots the guest with
 * `entry` on the runner (default: the environment's choice), and returns what the guest wrote to
 * result.json, validated with `schema`.
 */
export async function runInGuest<Job extends object, Result>(options: {
  entry: string;
  spec: ClusterSpecInput;
  job: Job;
  schema: z.ZodType<Result>;
  timeoutMs: number;
  runner?: RunnerChoice | KernelRunner;
  onLine?: (line: string) => void;
  keep?: boolean;
  /** Programs the guest starts besides its entry and the CLI (absolute paths): bundled with them. */
  programs?: readonly string[];
}): Promise<GuestRun<Result>> {
  // Before any boot: without init the kernel only panics, 30 lines that do not name the cause.
  if ((await unreadable([INIT])).length > 0)
    throw new TestbedError(
      `the guest's init ${INIT} is missing: this installation lacks the testbed's files`,
    );
  const choice = options.runner ?? runnerFromEnvironment();
  const { runner, passedOver } =
    typeof choice === "string" ? await chooseRunner(choice) : await checkedRunner(choice);
  await mkdir(RUNS_DIR, { recursive: true });
  // Unique also for runs started at once by parallel test workers.
  const dir = await mkdtemp(join(RUNS_DIR, "run-"));
  try {
    const specFile = join(dir, "spec.yaml");
    // JSON is YAML: the node agent reads this file like any spec.
    await writeFileAtomic(specFile, `${JSON.stringify(options.spec, null, 2)}\n`);
    await writeFileAtomic(join(dir, JOB_FILE), `${JSON.stringify({ ...options.job, specFile }, null, 2)}\n`);
    const bundling = performance.now();
    const programs = await prepareGuestPrograms(options.entry, options.programs);
    const bundleMs = Math.round(performance.now() - bundling);
    const started = performance.now();
    const since = () => Math.round(performance.now() - started);
    let up: { kernel: string; ms: number } | undefined;
    let firstCheckMs: number | undefined;
    const boot = await runner.boot({
      entry: programs.entry,
      env: programs.env,
      job: join(dir, JOB_FILE),
      runDir: dir,
      timeoutMs: options.timeoutMs,
      onLine: (line) => {
        const match = up ? null : KERNEL_UP.exec(line);
        if (match) up = { kernel: match[2]!, ms: since() };
        if (firstCheckMs === undefined && SUITE_STARTS.test(line)) firstCheckMs = since();
        options.onLine?.(line);
      },
    });
    const totalMs = since();
    const resultFile = join(dir, RESULT_FILE);
    const result = await readJsonFile(resultFile, options.schema).catch((error: unknown) => {
      const finished = GUEST_FINISHED.exec(boot.console);
      if (finished && finished[1] !== "0") {
        // One line: the program's first error line; the stack and the kernel's shutdown say no more.
        const cause = boot.console.split("\n").find((line) => /^\w*Error\b/.test(line.trim()));
        throw new TestbedError(
          `the guest program ${options.entry} exited with code ${finished[1]} on the ${runner.name} runner before writing results${cause ? `: ${cause.trim()}` : ""}`,
          boot.console,
        );
      }
      const why =
        (error as NodeJS.ErrnoException).code === "ENOENT" ? "wrote no results" : (error as Error).message;
      throw new TestbedError(
        `the guest on the ${runner.name} runner ${why} (kernel exit ${boot.code}${totalMs >= options.timeoutMs ? ", timed out" : ""}); console tail:\n${boot.console.split("\n").slice(-40).join("\n")}`,
        boot.console,
      );
    });
    return {
      result,
      console: boot.console,
      runner: runner.name,
      kernel: up?.kernel ?? "unknown",
      bootMs: up?.ms ?? totalMs,
      ...(firstCheckMs === undefined ? {} : { firstCheckMs }),
      totalMs,
      bundleMs,
      passedOver,
    };
  } finally {
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
}
