// Running programs: always an argument array, never a shell. One real implementation of Runner;
// tests substitute their own at this boundary.
import { spawn } from "node:child_process";

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that are not errors (default: only 0). */
  okCodes?: number[];
  timeoutMs?: number;
  /** Sees stdout as it arrives (a long-running program's progress); it is still collected. */
  onStdout?: (chunk: string) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Runner = (file: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;

export class CommandError extends Error {
  readonly result: RunResult;
  readonly command: string;

  constructor(command: string, result: RunResult) {
    super(`${command} exited ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 2000)}`);
    this.name = "CommandError";
    this.command = command;
    this.result = result;
  }
}

export const run: Runner = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      options.onStdout?.(chunk.toString("utf8"));
    });
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const result = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      };
      if ((options.okCodes ?? [0]).includes(result.code)) resolve(result);
      else reject(new CommandError([file, ...args].join(" "), result));
    });
    child.stdin.on("error", () => undefined); // a program that exits without reading its input
    child.stdin.end(options.input ?? "");
  });
