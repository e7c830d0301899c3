// Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
// A reader sees the old content or the new, never a partial file, even if the writer is killed.
// And the directories they go in, made without Node's recursive mkdir (below).
import { open, rename, readFile, mkdir, stat, unlink } from "node:fs/promises";
import { dirname, basename, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * `mkdir -p`. Node's `mkdir(path, { recursive: true })` never returns where mkdir answers ENOENT below
 * a parent that exists (/proc, /sys: it retries the parent, gets EEXIST, retries the child, forever);
 * this walks up to the first existing directory once and makes each missing one below it, so it
 * fails with the kernel's answer instead.
 */
export async function makeDirectory(path: string): Promise<void> {
  const missing: string[] = [];
  for (let current = resolve(path); ; current = dirname(current)) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (info) break;
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const directory of missing) {
    await mkdir(directory).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  }
}

/** Writes `content` to `path` unless it already holds exactly that; returns whether it wrote. */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<boolean> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === content) return false;
  const directory = dirname(path);
  await makeDirectory(directory);
  // Unique per call, not just per process: concurrent writers (two agents, or two writes of one) never share a temp.
  const temp = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "w", mode);
  try {
    await handle.writeFile(content, "utf8");
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temp, path);
  const dir = await open(directory, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return true;
}
