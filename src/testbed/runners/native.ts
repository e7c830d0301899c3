// The native runner: the host's own kernel, when it has ipvlan L3S. The guest program runs as PID 1 of
// private mount, network and PID namespaces (unshare), where init.sh mounts the same tmpfs layout as in
// a guest kernel: the host's network, /run, /tmp and iptables stay untouched, and every process of the
// run dies with its PID 1.
import { CommandError, run } from "../../sys/exec.ts";
import {
  GUEST_TOOLS,
  INIT,
  SETUP_FIX,
  bootProcess,
  initEnvironment,
  unreadable,
  type BootRequest,
  type KernelRunner,
} from "./runner.ts";

const UNSHARE = "/usr/bin/unshare";

export const nativeRunner: KernelRunner = {
  name: "native",
  async refusal() {
    if (process.getuid?.() !== 0) return "needs root (private namespaces, ipvlan links): run as root";
    const missing = await unreadable([UNSHARE, ...GUEST_TOOLS]);
    if (missing.length > 0) return `missing ${missing.join(", ")}: ${SETUP_FIX}`;
    return (await ipvlanL3sProblem()) ?? (await legacyNatProblem());
  },
  boot(request: BootRequest) {
    const env = { ...process.env, ...initEnvironment("native", request, undefined) };
    // --kill-child: if unshare is stopped (timeout), PID 1 and with it the whole namespace go too.
    const args = ["--mount", "--net", "--pid", "--fork", "--kill-child", "--", "/bin/sh", INIT];
    return bootProcess(UNSHARE, args, request, { env });
  },
};

/** The probe the issue names: an ipvlan L3S link on a dummy parent in a scratch network namespace. */
async function ipvlanL3sProblem(): Promise<string | undefined> {
  const commands = "link add probe0 type dummy\nlink add probe1 link probe0 type ipvlan mode l3s\n";
  const failure = await failureOf(UNSHARE, ["--net", "--", "ip", "-batch", "-"], commands);
  if (failure === undefined) return undefined;
  return `the host kernel cannot create an ipvlan L3S link (${failure}): use a kernel with CONFIG_IPVLAN, or the uml runner`;
}

/** The emulated nodes' masquerade and kube-proxy rules are iptables-legacy nat rules. */
async function legacyNatProblem(): Promise<string | undefined> {
  const failure = await failureOf(UNSHARE, ["--net", "--", "iptables-legacy", "-t", "nat", "-S"]);
  if (failure === undefined) return undefined;
  return `the host kernel has no legacy iptables nat table (${failure}): use a kernel with CONFIG_IP_NF_NAT, or the uml runner`;
}

async function failureOf(file: string, args: string[], input?: string): Promise<string | undefined> {
  try {
    await run(file, args, input === undefined ? { timeoutMs: 10_000 } : { input, timeoutMs: 10_000 });
    return undefined;
  } catch (error) {
    if (!(error instanceof CommandError)) return (error as Error).message;
    return (error.result.stderr || error.result.stdout).trim().split("\n")[0] || `exit ${error.result.code}`;
  }
}
