// What every command that talks to a cluster shares: --kubeconfig/--context (KUBECONFIG honoured, as
// kubectl does), and its exit code: 0 ok; 1 checks failed, findings with errors, or the cluster did
// not get there. Failures (bad input, unreachable cluster, refused requests) leave through main's one
// error path (failure.ts). Loads nothing heavy: the commands import the Kubernetes client only when they run.
import type { Command } from "commander";
import { UserError } from "../errors/user-error.ts";
import { parseListen } from "../net/listen.ts";
import { image } from "../spec/canonical.ts";
import { access, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { dirname, resolve } from "node:path";
import { EXIT_FAILED } from "./failure.ts";

export const EXIT_OK = 0;
export { EXIT_FAILED };

export function withClusterOptions(command: Command): Command {
  return command
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", "kubeconfig context (default: its current context)");
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export function parseSeconds(flag: string, text: string): number {
  const seconds = Number(text);
  // Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires after 1 ms.
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds * 1000 > MAX_TIMER_MS) {
    throw new UserError([
      {
        path: flag,
        value: text,
        message: `not a positive number of seconds up to ${Math.floor(MAX_TIMER_MS / 1000)}`,
        fix: `e.g. ${flag} 300`,
      },
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

/** An image flag, by the spec's own rule (the OCI reference grammar). */
export function parseImageFlag(flag: string, text: string): string {
  const parsed = image.safeParse(text);
  if (!parsed.success) {
    throw new UserError([
      {
        path: flag,
        value: text,
        message: "not an image reference (the OCI distribution grammar)",
        fix: `write REGISTRY[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST], e.g. ${flag} myregistry.azurecr.io/busybox:1.36`,
      },
    ]);
  }
  return parsed.data;
}

export function parseUrlFlag(flag: string, text: string): URL {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || !["http:", "https:"].includes(url.protocol)) {
    throw new UserError([
      {
        path: flag,
        value: text,
        message: "not an http:// or https:// URL",
        fix: `e.g. ${flag} http://www.google.com/`,
      },
    ]);
  }
  return url;
}

/** A file a command will write at its end: its directory must exist, so a long run is not lost. */
export async function checkOutputFile(flag: string, file: string): Promise<void> {
  const refuse = (message: string): never => {
    throw new UserError([
      { path: flag, value: file, message, fix: "name a file in a directory that exists and you can write" },
    ]);
  };
  if (file.trim() === "") refuse("is empty");
  const directory = await stat(dirname(resolve(file))).catch(() => undefined);
  if (!directory?.isDirectory()) refuse(`its directory ${dirname(resolve(file))} does not exist`);
  await access(dirname(resolve(file)), constants.W_OK).catch(() => refuse("its directory is not writable"));
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) refuse("is a directory");
}

/** Runs a command body; its result is the exit code. Failures go to main, like every command's. */
export async function runCommand(body: () => Promise<number>) {
  process.exitCode = await body();
}
