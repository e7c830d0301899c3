// Which network configuration the runtime uses from a conf dir: libcni lists the .conf, .conflist and
// .json files and containerd takes the first by name. Every other file is shadowed; when ours is, pods
// get another network than the agent set up. lint reports it, and the agent stays unready.
import { readdir } from "node:fs/promises";

const NETWORK_CONFIG_FILE = /\.(conf|conflist|json)$/;

/** The most of a network config read (ours is under 1 KiB); libcni reads whole files, lint stops here. */
export const MAX_CNI_CONFIG_BYTES = 1024 * 1024;

/** The network config files in the order libcni returns them (by name). */
export function networkConfigs(names: readonly string[]): string[] {
  return names.filter((name) => NETWORK_CONFIG_FILE.test(name)).sort();
}

/** The file the runtime uses instead of `ours`, or undefined when ours is first (or absent). */
function shadowing(names: readonly string[], ours: string): string | undefined {
  const [first] = networkConfigs(names);
  return first !== undefined && first !== ours && names.includes(ours) ? first : undefined;
}

/** The names libcni considers: files (and links to them), never directories, whatever their name. */
export async function configNamesIn(confDir: string): Promise<string[]> {
  const entries = await readdir(confDir, { withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => entry.name);
}

/** Like shadowing(), reading the directory; a directory that cannot be read shadows nothing. */
export async function shadowingIn(confDir: string, ours: string): Promise<string | undefined> {
  return shadowing(await configNamesIn(confDir).catch(() => []), ours);
}
