// Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory.
// A reader sees the old content or the new, never a partial file, even if the writer is killed.
import { open, rename, readFile, mkdir, unlink } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";

/** Writes `content` to `path` unless it already holds exactly that; returns whether it wrote. */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<boolean> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === content) return false;
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
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
