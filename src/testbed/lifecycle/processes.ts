// The long-running programs of the lifecycle scenario (etcd, kube-apiserver, the node agents, the
// controller), each in a network namespace of the guest with its output in a log file: started,
// measured (resident memory, as the kernel counts it) and stopped by SIGTERM, as a kubelet stops a
// container.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { readFile } from "node:fs/promises";

export interface Program {
  readonly name: string;
  readonly log: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (128 + signal number when killed). */
  readonly exited: Promise<number>;
}

/** Starts `argv` inside network namespace `ns`, its stdout and stderr appended to `log`. */
export function startIn(
  ns: string,
  name: string,
  argv: readonly string[],
  log: string,
  env: NodeJS.ProcessEnv = process.env,
): Program {
  const fd = openSync(log, "a");
  const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", fd, fd], env });
  closeSync(fd);
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1))),
  );
  return { name, log, child, exited };
}

function signalNumber(signal: NodeJS.Signals): number {
  return signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : 0;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs` (a pod's termination grace period). */
export async function stopProgram(program: Program, graceMs = 10_000): Promise<number> {
  if (program.child.exitCode === null && program.child.signalCode === null) {
    program.child.kill("SIGTERM");
    const timer = setTimeout(() => program.child.kill("SIGKILL"), graceMs);
    const code = await program.exited;
    clearTimeout(timer);
    return code;
  }
  return program.exited;
}

/**
 * Resident memory of the program in MiB. `ip netns exec` execs the program in place, so the child's
 * pid is the program's own.
 */
export async function residentMiB(program: Program): Promise<number | undefined> {
  const status = await readFile(`/proc/${program.child.pid}/status`, "utf8").catch(() => "");
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return kib === undefined ? undefined : Math.round(Number(kib) / 1024);
}

/** The last lines of a program's log, for an error that says why it stopped. */
export async function logTail(program: Program, lines = 15): Promise<string> {
  const text = await readFile(program.log, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
