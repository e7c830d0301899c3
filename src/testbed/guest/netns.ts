// Running things inside the guest's network namespaces: every emulated host (VNet, nodes, pods, the
// internet) is one namespace of the UML kernel, entered with nsenter and reached with `ip -n NS -batch`.
// nsenter, not `ip netns exec`: ip also makes a mount namespace and mounts a sysfs for every command,
// which nothing run here reads (sysctls go through /proc/sys, which follows the network namespace),
// and a program start is the guest's dearest operation (bench/agent-start.ts measures both).
import { CommandError, run, type Runner } from "../../sys/exec.ts";

/** `argv` run inside network namespace `ns` (one made by `ip netns add`). */
export function netnsArgv(ns: string, argv: readonly string[]): string[] {
  return ["nsenter", `--net=/run/netns/${ns}`, "--", ...argv];
}

/** A Runner whose programs run inside network namespace `ns` (used for CNI plugins and node tools). */
export function inNetns(ns: string, runner: Runner = run): Runner {
  return (file, args, options) => {
    const [enter, ...rest] = netnsArgv(ns, [file, ...args]);
    return runner(enter!, rest, options);
  };
}

/** Applies `ip` commands (one per line, without the leading `ip`) in one process. */
export async function ipBatch(ns: string | undefined, commands: readonly string[]): Promise<void> {
  if (commands.length === 0) return;
  const where = ns === undefined ? [] : ["-n", ns];
  await run("ip", [...where, "-batch", "-"], { input: `${commands.join("\n")}\n` });
}

export async function sysctls(ns: string, values: Record<string, string>): Promise<void> {
  const pairs = Object.entries(values).map(([key, value]) => `${key}=${value}`);
  if (pairs.length > 0) await inNetns(ns)("sysctl", ["-q", "-w", ...pairs]);
}

export async function iptablesRestore(ns: string, payload: string): Promise<void> {
  await inNetns(ns)("iptables-legacy-restore", ["--noflush", "--wait=5"], { input: payload });
}

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command whose failure is an answer, not an error (probes). */
export async function probe(argv: readonly string[], timeoutMs: number): Promise<Outcome> {
  try {
    return await run(argv[0]!, argv.slice(1), { timeoutMs });
  } catch (error) {
    if (error instanceof CommandError) return error.result;
    throw error;
  }
}
