// The node's CNI files: our conflist in the conf dir, and the plugin binaries it names in the bin dir.
import { access, constants, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { CONFLIST_FILE, REQUIRED_PLUGINS } from "../cni/conflist.ts";
import { writeFileAtomic } from "../sys/atomic-write.ts";

export function conflistPath(confDir: string): string {
  return join(confDir, CONFLIST_FILE);
}

export function contentHash(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}

/** Returns whether the file had to be (re)written. */
export async function writeConflist(confDir: string, text: string): Promise<boolean> {
  const written = await writeFileAtomic(conflistPath(confDir), text, 0o644);
  await removeStaleTemps(confDir);
  return written;
}

/**
 * A writer killed between creating its temp file and the rename leaves `.10-aks-ipvlan.conflist.PID.*.tmp`
 * behind. The runtime ignores it (no .conflist suffix), but it would pile up across restarts. Any other
 * process's temp is a dead writer's: the agent writes only while it holds the node lock (node-lock.ts).
 */
async function removeStaleTemps(confDir: string): Promise<void> {
  const prefix = `.${CONFLIST_FILE}.`;
  for (const name of await readdir(confDir)) {
    if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue;
    if (name.startsWith(`${prefix}${process.pid}.`)) continue;
    await unlink(join(confDir, name)).catch(() => undefined);
  }
}

export async function removeConflist(confDir: string): Promise<boolean> {
  return unlink(conflistPath(confDir)).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return false;
      throw error;
    },
  );
}

export async function missingPlugins(binDir: string): Promise<string[]> {
  const missing: string[] = [];
  for (const plugin of REQUIRED_PLUGINS) {
    await access(join(binDir, plugin), constants.X_OK).catch(() => missing.push(plugin));
  }
  return missing;
}
