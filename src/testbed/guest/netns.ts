// Running things inside the guest's network namespaces: every emulated host (VNet, nodes, pods, the
// internet) is one namespace of the UML kernel, reached with `ip netns exec` and `ip -n NS -batch`.
import { CommandError, run, type Runner } from "../../sys/exec.ts";

/** A Runner whose programs run inside network namespace `ns` (used for CNI plugins and node tools). */
export function inNetns(ns: string, runner: Runner = run): Runner {
  return (file, args, options) => runner("ip", ["netns", "exec", ns, file, ...args], options);
}

/** Applies `ip` commands (one per line, without the leading `ip`) in one process. */
export async function ipBatch(ns: string | undefined, commands: readonly string[]): Promise<void> {
  if (commands.length === 0) return;
  const where = ns === undefined ? [] : ["-n", ns];
  await run("ip", [...where, "-batch", "-"], { input: `${commands.join("\n")}\n` });
}

export async function sysctls(ns: string, values: Record<string, string>): Promise<void> {
  const pairs = Object.entries(values).map(([key, value]) => `${key}=${value}`);
  if (pairs.length > 0) await run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", ...pairs]);
}

export async function iptablesRestore(ns: string, payload: string): Promise<void> {
  await run("ip", ["netns", "exec", ns, "iptables-legacy-restore", "--noflush", "--wait=5"], {
    input: payload,
  });
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
