// The registry-free agent image (scripts/image/build.ts) for the sources as they are, built once per
// content: cached under ${XDG_CACHE_HOME:-~/.cache}/aks-ipvlan/image/HASH, HASH over the packed package,
// the Node binary, the Dockerfile, the build's scripts and the Debian mirror and suite; Debian's
// downloaded packages are kept beside (image/debs) for the next build.
import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/sys/exec.ts";
import { DOCKERFILE } from "../../scripts/image/dockerfile.ts";
import { NODE_BINARY, debianSource } from "../../scripts/image/source.ts";
import { ROOT, cacheRoot, cached, packedPackage } from "./packed.ts";

const BUILD_SCRIPTS = join(ROOT, "scripts/image");

export interface AgentImage {
  dir: string;
  rootfs: string;
  oci: string;
  hash: string;
  warm: boolean;
  buildMs?: number;
}

export async function agentImage(): Promise<AgentImage> {
  const packed = await packedPackage();
  const source = await debianSource();
  const hash = createHash("sha256");
  hash.update(`package ${packed.hash}\0mirror ${source.mirror}\0suite ${source.suite}\0`);
  hash.update((await run(NODE_BINARY, ["--version"])).stdout);
  hash.update(await readFile(DOCKERFILE));
  for (const script of (await readdir(BUILD_SCRIPTS)).sort()) {
    hash.update(`${script}\0`);
    hash.update(await readFile(join(BUILD_SCRIPTS, script)));
  }
  const key = hash.digest("hex").slice(0, 16);
  const dir = join(cacheRoot(), "image", key);
  let buildMs: number | undefined;
  const warm = await cached(dir, async (into) => {
    const started = performance.now();
    // prettier-ignore
    await run(process.execPath, [
      join(BUILD_SCRIPTS, "build.ts"), "--package", packed.tarball, "--out", into,
      "--deb-cache", join(cacheRoot(), "image/debs"),
    ]);
    buildMs = Math.round(performance.now() - started);
  });
  return {
    dir,
    rootfs: join(dir, "rootfs"),
    oci: join(dir, "oci"),
    hash: key,
    warm,
    ...(buildMs === undefined ? {} : { buildMs }),
  };
}
