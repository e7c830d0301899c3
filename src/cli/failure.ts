// The one error path of every command: any failure becomes "error: cause" plus "fix: ..." and an exit
// code (README, "Exit codes"): 2 bad input, 1 runtime failures, 3 cluster unreachable. A stack trace
// is only for bugs, and only printed with --debug.
import { UserError } from "../errors/user-error.ts";
import { ClusterUnreachableError, KubeApiError } from "../kube/errors.ts";

export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
const EXIT_UNREACHABLE = 3;

export interface Failure {
  code: number;
  /** What stderr shows, ending in a newline. */
  text: string;
}

/** What the user can do about a failed system call, by errno code. */
const ERRNO: Record<string, { fix: string }> = {
  ENOENT: { fix: "check the path" },
  EACCES: { fix: "run as a user allowed to use that path (root on a node)" },
  EPERM: { fix: "run as root (the agent needs CAP_NET_ADMIN)" },
  EROFS: { fix: "use a writable directory" },
  ENOSPC: { fix: "free space on that file system" },
  EDQUOT: { fix: "free space or raise the quota" },
  EISDIR: { fix: "name a file, or move the directory out of the way" },
  ENOTDIR: { fix: "check each directory of the path" },
  EEXIST: { fix: "remove it or choose another path" },
  ENOTEMPTY: { fix: "remove it or choose another path" },
  ELOOP: { fix: "resolve the symbolic link loop" },
  EBUSY: { fix: "a mount point cannot be replaced: name a directory inside it" },
  ETIMEDOUT: { fix: "check that whatever writes that pipe or answers there is running" },
  EFBIG: { fix: "name the real file; it is far larger than any this command reads" },
  EMFILE: { fix: "raise the open-file limit (ulimit -n)" },
  EADDRINUSE: { fix: "stop the process listening there, or pass --listen with another port" },
  EADDRNOTAVAIL: { fix: "listen on one of the node's addresses, e.g. 127.0.0.1" },
};

export function describeFailure(error: unknown, debug: boolean): Failure {
  if (error instanceof UserError) return { code: EXIT_BAD_INPUT, text: `error: ${error.message}\n` };
  const trace = debug && error instanceof Error && error.stack ? `${error.stack}\n` : "";
  if (error instanceof ClusterUnreachableError) {
    return {
      code: EXIT_UNREACHABLE,
      text: `error: ${error.message}\n  fix: check --kubeconfig/--context and that the API server is reachable (az aks get-credentials)\n${trace}`,
    };
  }
  if (error instanceof KubeApiError && error.code === 403) {
    return {
      code: EXIT_FAILED,
      text: `error: ${error.message}\n  fix: use a context allowed to manage namespaces, RBAC, DaemonSets and pods (cluster-admin)\n${trace}`,
    };
  }
  const message = (error instanceof Error ? error.message : String(error)).trim();
  // Node's own text names the code, the system call and the path: "EROFS: read-only file system, open '/x'".
  const errno = errnoOf(error);
  if (errno) {
    const fix = ERRNO[errno]?.fix ?? "see the system call and path named";
    return { code: EXIT_FAILED, text: `error: ${message}\n  fix: ${fix}\n${trace}` };
  }
  const hint = debug ? trace : "  (run with --debug for the stack trace)\n";
  return { code: EXIT_FAILED, text: `error: ${message}\n${hint}` };
}

/** A Node system error, also when wrapped as the cause of another error. */
function errnoOf(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}
