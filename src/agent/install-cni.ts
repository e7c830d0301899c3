// The init container's job: put each CNI plugin our conflist names into the node's CNI bin dir, only
// where it is missing (a node's own newer plugins win), atomically so the runtime never execs half a file.
import { access, chmod, constants, copyFile, open, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { REQUIRED_PLUGINS } from "../cni/conflist.ts";
import { UserError } from "../errors/user-error.ts";

export interface Installed {
  plugin: string;
  action: "installed" | "present";
}

export async function installCni(from: string, to: string): Promise<Installed[]> {
  const results: Installed[] = [];
  for (const plugin of REQUIRED_PLUGINS) {
    const target = join(to, plugin);
    if (await executable(target)) {
      results.push({ plugin, action: "present" });
      continue;
    }
    const source = join(from, plugin);
    if (!(await executable(source))) {
      throw new UserError([
        {
          path: "--from",
          value: source,
          message: `the image has no CNI plugin ${plugin}`,
          fix: "build the image from the project's Dockerfile (it copies Debian's containernetworking-plugins there)",
        },
      ]);
    }
    const temp = join(to, `.${plugin}.${process.pid}.tmp`);
    try {
      await copyFile(source, temp);
      await chmod(temp, 0o755);
      const handle = await open(temp, "r");
      await handle.sync().finally(() => handle.close());
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    results.push({ plugin, action: "installed" });
  }
  return results;
}

/** A regular executable file: a FIFO or device named like a plugin would block the copy forever. */
async function executable(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return false;
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}
