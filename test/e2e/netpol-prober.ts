// Builds the NetworkPolicy e2e's prober (netpol-prober.c) on the host, where gcc is (scripts/setup-host.sh
// installs it); the guest runs the binary from the shared file system.
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { run } from "../../src/sys/exec.ts";
import { RUNS_DIR } from "../../src/testbed/run.ts";

export async function buildProber(): Promise<string> {
  const binary = resolve(RUNS_DIR, "lib/netpol-prober");
  await mkdir(resolve(RUNS_DIR, "lib"), { recursive: true });
  // prettier-ignore
  await run("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", binary, resolve(import.meta.dirname, "netpol-prober.c")]);
  return binary;
}
