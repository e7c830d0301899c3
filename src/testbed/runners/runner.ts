// The one boot interface of the testbed: a runner gives the guest program (guest/init.sh as PID 1, then
// the Node entry with its job) a Linux kernel with ipvlan L3S, and says in one line why it cannot when
// it cannot. The runners differ only in where that kernel comes from: the host's own (native), User-Mode
// Linux (uml) or a Debian kernel under QEMU (qemu).
import { access, constants } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { CommandError, run, type RunOptions } from "../../sys/exec.ts";

export const RUNNER_NAMES = ["native", "uml", "qemu"] as const;
export type RunnerName = (typeof RUNNER_NAMES)[number];
export const RunnerChoice = z.enum(["auto", ...RUNNER_NAMES]);
export type RunnerChoice = z.infer<typeof RunnerChoice>;

// Inside a guest the code runs from bundles (src/testbed/bundle.ts), which cannot locate themselves:
// there init.sh's environment says where the repository and init are.
const IN_GUEST = process.env.TESTBED_RUNNER !== undefined && process.env.REPO !== undefined;
export const REPO = IN_GUEST ? process.env.REPO! : resolve(import.meta.dirname, "../../..");
export const INIT =
  IN_GUEST && process.env.TESTBED_INIT
    ? process.env.TESTBED_INIT
    : resolve(import.meta.dirname, "../guest/init.sh");

export interface BootRequest {
  /** The Node program the guest runs, and its one argument. */
  entry: string;
  job: string;
  /** The run directory: the only host directory the guest writes (job, results, the kernel's own files). */
  runDir: string;
  timeoutMs: number;
  /** Each console line, as the guest prints it. */
  onLine?: (line: string) => void;
  /** More environment for the guest program (where its programs are: src/testbed/bundle.ts). */
  env?: Record<string, string>;
}

export interface BootResult {
  code: number;
  console: string;
}

export interface KernelRunner {
  readonly name: RunnerName;
  /** Why this runner cannot boot the guest here (one line, with the fix), or undefined when it can. */
  refusal(): Promise<string | undefined>;
  boot(request: BootRequest): Promise<BootResult>;
}

/**
 * What guest/init.sh reads from its environment: where the repository is, what to run, which runner
 * started it (native does not power off) and which module tree to mount on /lib/modules (none: the
 * host's).
 */
export function initEnvironment(
  runner: RunnerName,
  request: BootRequest,
  modules: string | undefined,
): Record<string, string> {
  return {
    ...request.env,
    REPO,
    // The Node that runs this host side runs the guest too (the package's engine, not whatever
    // `node` the guest's PATH finds first).
    NODE: process.execPath,
    ENTRY: request.entry,
    JOB: request.job,
    TESTBED_INIT: INIT,
    TESTBED_RUNNER: runner,
    TESTBED_MODULES: modules ?? "",
  };
}

/** `environment` as NAME=value kernel arguments; the kernel splits its command line at spaces. */
export function kernelArguments(environment: Record<string, string>): string[] {
  return Object.entries(environment).map(([name, value]) => {
    if (/\s/.test(value)) throw new Error(`${name} must not contain whitespace to reach init: ${value}`);
    return `${name}=${value}`;
  });
}

/** Runs the program that is the guest's kernel (or namespace holder) until it exits; its stdout is the console. */
export async function bootProcess(
  file: string,
  args: readonly string[],
  request: BootRequest,
  options: Pick<RunOptions, "env"> = {},
): Promise<BootResult> {
  let pending = "";
  const onStdout = (chunk: string) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) request.onLine?.(line.replace(/\r$/, ""));
  };
  try {
    const result = await run(file, args, { ...options, timeoutMs: request.timeoutMs, onStdout });
    return { code: result.code, console: result.stdout };
  } catch (error) {
    if (error instanceof CommandError) {
      return { code: error.result.code, console: error.result.stdout + error.result.stderr };
    }
    throw error;
  }
}

/** The paths of `paths` this process cannot read. */
export async function unreadable(paths: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const path of paths) {
    const readable = await access(path, constants.R_OK).then(
      () => true,
      () => false,
    );
    if (!readable) missing.push(path);
  }
  return missing;
}

/** Host programs and files every runner's guest uses (the guest's root file system is the host's). */
export const GUEST_TOOLS = ["/usr/lib/cni/ipvlan", "/usr/sbin/iptables-legacy"];

/**
 * The command that prepares this host, as the user can type it where they are: a clone runs its
 * TypeScript sources and has the script; the installed package runs dist/ and has the CLI command.
 */
export function setupCommand(runner?: "qemu"): string {
  const flag = runner ? ` --runner ${runner}` : "";
  return import.meta.filename.endsWith(".ts")
    ? `bash scripts/setup-host.sh${flag}`
    : `aks-ipvlan setup-host${flag}`;
}

export const SETUP_FIX = `run "${setupCommand()}" as root`;
