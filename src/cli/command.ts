// What every command that talks to a cluster shares: --kubeconfig/--context (KUBECONFIG honoured, as
// kubectl does), and its exit code: 0 ok; 1 checks failed, findings with errors, or the cluster did
// not get there. Failures (bad input, unreachable cluster, refused requests) leave through main's one
// error path (failure.ts). Loads nothing heavy: the commands import the Kubernetes client only when they run.
import type { Command } from "commander";
import { UserError } from "../errors/user-error.ts";
import { parseListen } from "../net/listen.ts";
import { EXIT_FAILED } from "./failure.ts";

export const EXIT_OK = 0;
export { EXIT_FAILED };

export function withClusterOptions(command: Command): Command {
  return command
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", "kubeconfig context (default: its current context)");
}

export function parseSeconds(flag: string, text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UserError([
      { path: flag, value: text, message: "not a positive number of seconds", fix: `e.g. ${flag} 300` },
    ]);
  }
  return seconds * 1000;
}

export function parseCount(flag: string, text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new UserError([
      { path: flag, value: text, message: "not a whole number from 1 to 64", fix: `e.g. ${flag} 4` },
    ]);
  }
  return count;
}

/** --listen's value, checked before the command does anything (an option parser for commander). */
export function parseListenFlag(text: string): string {
  try {
    parseListen(text);
    return text;
  } catch (error) {
    throw new UserError([
      {
        path: "--listen",
        value: text,
        message: (error as Error).message,
        fix: "write a.b.c.d:port, e.g. 127.0.0.1:9464 (loopback; 0.0.0.0 serves every address of the host)",
      },
    ]);
  }
}

/** Runs a command body; its result is the exit code. Failures go to main, like every command's. */
export async function runCommand(body: () => Promise<number>) {
  process.exitCode = await body();
}
