// Where the registry-free image's parts come from (build.ts builds from them; the image test keys its
// cache on them): Debian's packages from the mirror this machine's apt uses, and Node's binary from the
// npm `node` package.
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";

/** What the Dockerfile's final stage apt-installs. */
export const DEBIAN_PACKAGES = ["iptables", "iproute2", "containernetworking-plugins"];
/** The Node binary of the npm `node` package (a development dependency: the project's engine). */
export const NODE_BINARY = join(import.meta.dirname, "../../node_modules/node/bin/node");

/** The Debian mirror and suite this machine's apt uses (deb822 sources), else deb.debian.org. */
export async function debianSource(): Promise<{ mirror: string; suite: string }> {
  const release = await readFile("/etc/os-release", "utf8");
  const suite = /^VERSION_CODENAME=(\S+)$/m.exec(release)?.[1] ?? "bookworm";
  const dir = "/etc/apt/sources.list.d";
  const files = existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith(".sources")) : [];
  for (const file of files) {
    const text = await readFile(join(dir, file), "utf8");
    const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1];
    if (uri && new RegExp(`^Suites:.*\\b${suite}\\b`, "m").test(text) && !uri.includes("security")) {
      return { mirror: uri, suite };
    }
  }
  return { mirror: "http://deb.debian.org/debian", suite };
}
