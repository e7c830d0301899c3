// Running a command in a pod's container through the API server (what `kubectl exec` does), behind a
// small interface: the API server's exec is a WebSocket upgrade that tests replace with a fake.
import { Writable } from "node:stream";
import { Exec, type KubeConfig, type V1Status } from "@kubernetes/client-node";

export interface PodTarget {
  namespace: string;
  name: string;
  container: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PodExec {
  exec(target: PodTarget, command: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
}

export class ExecTimeoutError extends Error {
  constructor(target: PodTarget, command: readonly string[], timeoutMs: number) {
    super(`${command.join(" ")} in ${target.namespace}/${target.name} did not finish within ${timeoutMs} ms`);
    this.name = "ExecTimeoutError";
  }
}

const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

export function apiPodExec(config: KubeConfig): PodExec {
  const client = new Exec(config);
  return {
    exec: async (target, command, options = {}) => {
      const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
      const stdout = collector();
      const stderr = collector();
      let settle: (status: V1Status | undefined) => void = () => undefined;
      const finished = new Promise<V1Status | undefined>((resolve) => (settle = resolve));
      const socket = await client.exec(
        target.namespace,
        target.name,
        target.container,
        [...command],
        stdout.stream,
        stderr.stream,
        null,
        false,
        (status) => settle(status),
      );
      socket.on("close", () => settle(undefined));
      const timer = setTimeout(() => settle(TIMED_OUT), timeoutMs);
      const status = await finished.finally(() => clearTimeout(timer));
      if (status === TIMED_OUT) {
        socket.terminate();
        throw new ExecTimeoutError(target, command, timeoutMs);
      }
      return { code: exitCode(status), stdout: stdout.text(), stderr: stderr.text() };
    },
  };
}

const TIMED_OUT: V1Status = { status: "TimedOut" };

/** The API server reports the exit code in a Status: Success, or NonZeroExitCode with an ExitCode cause. */
export function exitCode(status: V1Status | undefined): number {
  if (!status) return 1; // the stream closed without a status: the container went away
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const code = Number(cause?.message);
  return Number.isInteger(code) && code > 0 ? code : 1;
}

function collector() {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}
