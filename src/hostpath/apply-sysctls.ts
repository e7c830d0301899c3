// Kernel settings the datapath needs, written straight to /proc/sys (no `sysctl` process per key).
// /proc files cannot be replaced by rename, so these are plain writes, not writeFileAtomic.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Sets each key whose value differs; returns the keys it changed. */
export async function applySysctls(
  sysctls: Record<string, string>,
  procSys = "/proc/sys",
): Promise<string[]> {
  const changed: string[] = [];
  for (const [key, value] of Object.entries(sysctls)) {
    const path = join(procSys, ...key.split("."));
    const current = (await readFile(path, "utf8")).trim();
    if (current === value) continue;
    await writeFile(path, `${value}\n`);
    changed.push(key);
  }
  return changed;
}

export async function readSysctl(key: string, procSys = "/proc/sys"): Promise<string | undefined> {
  return readFile(join(procSys, ...key.split(".")), "utf8").then(
    (text) => text.trim(),
    () => undefined,
  );
}
