// Booting the guest: Debian's User-Mode Linux kernel with the host's file system as its root (hostfs),
// guest/init.sh as PID 1, and NAME=value arguments that reach init as environment. The guest's
// console is the kernel's stdout.
import { access, constants } from "node:fs/promises";
import { resolve } from "node:path";
import { CommandError, run } from "../sys/exec.ts";

export const UML_KERNEL = "/usr/bin/linux.uml";
const MODULES = "/usr/lib/uml/modules";
const REPO = resolve(import.meta.dirname, "../..");
const INIT = resolve(import.meta.dirname, "guest/init.sh");
/** Built by scripts/setup-host.sh from uml/xsave-fix.c; harmless where the host does not need it. */
export const XSAVE_FIX = resolve(REPO, ".testbed/lib/uml-xsave-fix.so");

export interface BootOptions {
  /** The Node program the guest runs, and its one argument. */
  entry: string;
  job: string;
  /** Where UML makes its umid directory (pid file, mconsole socket) instead of $HOME/.uml. */
  umlDir: string;
  timeoutMs: number;
  memory?: string;
  /** Each console line, as the guest prints it. */
  onLine?: (line: string) => void;
}

export interface BootResult {
  code: number;
  console: string;
}

/** Why this machine cannot boot the guest, or undefined when it can. */
export async function cannotBoot(): Promise<string | undefined> {
  const missing: string[] = [];
  for (const path of [
    UML_KERNEL,
    MODULES,
    "/lib/modules",
    "/usr/lib/cni/ipvlan",
    "/usr/sbin/iptables-legacy",
    XSAVE_FIX,
  ]) {
    if (
      !(await access(path, constants.R_OK).then(
        () => true,
        () => false,
      ))
    )
      missing.push(path);
  }
  if (missing.length === 0) return undefined;
  return `missing ${missing.join(", ")}: run "bash scripts/setup-host.sh" as root (installs user-mode-linux, containernetworking-plugins, iptables, ... and creates /lib/modules)`;
}

export async function bootGuest(options: BootOptions): Promise<BootResult> {
  for (const [name, value] of [
    ["entry", options.entry],
    ["job", options.job],
    ["uml_dir", options.umlDir],
    ["repo", REPO],
  ] as const) {
    // The kernel splits its command line at spaces; a path with one would reach init cut in two.
    if (/\s/.test(value)) throw new Error(`the ${name} path must not contain whitespace: ${value}`);
  }
  let pending = "";
  const onStdout = (chunk: string) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) options.onLine?.(line.replace(/\r$/, ""));
  };
  // prettier-ignore
  const args = [
    `mem=${options.memory ?? "1G"}`, `uml_dir=${options.umlDir}`, "rootfstype=hostfs", "rootflags=/", "rw",
    "init=/bin/sh", "con=null", "con0=null,fd:1",
    `REPO=${REPO}`, `ENTRY=${options.entry}`, `JOB=${options.job}`,
    "--", INIT,
  ];
  try {
    const result = await run(UML_KERNEL, args, {
      timeoutMs: options.timeoutMs,
      onStdout,
      env: { ...process.env, LD_PRELOAD: XSAVE_FIX },
    });
    return { code: result.code, console: result.stdout };
  } catch (error) {
    if (error instanceof CommandError) return { code: error.result.code, console: error.result.stdout };
    throw error;
  }
}
