// What every command that talks to a cluster shares: --kubeconfig/--context (KUBECONFIG honoured, as
// kubectl does), and the mapping of failures to exit codes (README, "Exit codes"):
// 0 ok; 1 checks failed, findings with errors, or the cluster did not get there (timeouts,
// conflicts, refused requests); 2 bad input (UserError, left to main); 3 cluster unreachable.
// Loads nothing heavy: the commands import the Kubernetes client only when they run.
import type { Command } from "commander";
import { ClusterUnreachableError, KubeApiError } from "../kube/errors.ts";
import { UserError } from "../errors/user-error.ts";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_UNREACHABLE = 3;

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

/** Runs a command body; its result is the exit code. Errors become a message and their exit code. */
export async function runCommand(
  body: () => Promise<number>,
  stderr: NodeJS.WritableStream = process.stderr,
) {
  try {
    process.exitCode = await body();
  } catch (error) {
    if (error instanceof UserError) throw error;
    process.exitCode = exitCodeOf(error);
    stderr.write(`error: ${(error as Error).message}\n${fixOf(error)}`);
  }
}

function exitCodeOf(error: unknown): number {
  return error instanceof ClusterUnreachableError ? EXIT_UNREACHABLE : EXIT_FAILED;
}

function fixOf(error: unknown): string {
  if (error instanceof ClusterUnreachableError) {
    return "  fix: check --kubeconfig/--context and that the API server is reachable (az aks get-credentials)\n";
  }
  if (error instanceof KubeApiError && error.code === 403) {
    return "  fix: use a context allowed to manage namespaces, RBAC, DaemonSets and pods (cluster-admin)\n";
  }
  return "";
}
