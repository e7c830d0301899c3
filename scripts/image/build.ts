// The agent image without a container engine or registry, from Debian's packages and npm only (this
// project's machines reach neither Docker Hub nor a container engine): a Debian base made by
// debootstrap (minbase) from the Debian mirror this machine's apt uses, with the packages the
// Dockerfile installs; Node 22's binary from the npm `node` package (the project's own engine); the
// packed product (its production dependencies bundled) unpacked at /app. The root file system becomes
// one layer of an OCI image layout, written by hand (tar, sha256, gzip: no umoci or buildah needed),
// whose config (entry point, command, user, working directory, environment) is the Dockerfile's final
// stage (dockerfile.ts). Same layout, entry point and user as the Dockerfile's image.
//
//   npm run -s image -- --out DIR [--package aks-ipvlan-X.tgz] [--deb-cache DIR]   (as root; packs when no --package)
//   DIR/rootfs: the root file system; DIR/oci: the image layout (skopeo copy oci:DIR/oci ... pushes it)
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import {
  chmod,
  copyFile,
  link,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { z } from "zod";
import { run } from "../../src/sys/exec.ts";
import { readDockerfile, runtimeConfig } from "./dockerfile.ts";
import { DEBIAN_PACKAGES, NODE_BINARY, debianSource } from "./source.ts";

async function rootfs(dir: string, packageTgz: string, debCache: string): Promise<void> {
  const { mirror, suite } = await debianSource();
  await mkdir(debCache, { recursive: true });
  // prettier-ignore
  await run("debootstrap", [
    "--variant=minbase", `--include=${DEBIAN_PACKAGES.join(",")}`, `--cache-dir=${debCache}`,
    suite, dir, mirror,
  ]);
  // What a container image leaves out: package lists and caches, documentation, the device nodes
  // debootstrap made (the runtime mounts /dev), logs of the bootstrap.
  for (const path of [
    "var/lib/apt/lists",
    "var/cache/apt",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "dev",
    "var/log",
  ]) {
    await rm(join(dir, path), { recursive: true, force: true });
    await mkdir(join(dir, path), { recursive: true });
  }
  // As the Dockerfile: the plugins install-cni copies to the node; hard links, stored once in the layer.
  const cniBin = join(dir, "opt/aks-ipvlan/cni-bin");
  await mkdir(cniBin, { recursive: true });
  for (const plugin of await readdir(join(dir, "usr/lib/cni"))) {
    await link(join(dir, "usr/lib/cni", plugin), join(cniBin, plugin));
  }
  await copyFile(NODE_BINARY, join(dir, "usr/local/bin/node"));
  await chmod(join(dir, "usr/local/bin/node"), 0o755);
  // The packed product at /app: package.json, dist/, node_modules/ (production only, bundled).
  await run("tar", ["-xzf", packageTgz, "-C", dir, "--no-same-owner", "--transform", "s,^package,app,"]);
  // Never read at run time: source maps and type declarations of the bundled dependencies.
  // prettier-ignore
  await run("find", [
    join(dir, "app/node_modules"), "-type", "f", "(", "-name", "*.map", "-o", "-name", "*.d.ts", "-o",
    "-name", "*.d.mts", "-o", "-name", "*.d.cts", ")", "-delete",
  ]);
  // Where the DaemonSet mounts the spec (a ConfigMap): the runtime needs the mount point.
  await mkdir(join(dir, "etc/aks-ipvlan"), { recursive: true });
}

/** Passes bytes through, hashing them: one read of the layer gives both digests. */
function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

async function writeBlob(blobs: string, bytes: Buffer | string): Promise<{ digest: string; size: number }> {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  await writeFile(join(blobs, digest.slice(7)), bytes);
  return { digest, size: Buffer.byteLength(bytes) };
}

async function ociLayout(rootDir: string, out: string, version: string): Promise<void> {
  const blobs = join(out, "blobs/sha256");
  await mkdir(blobs, { recursive: true });
  const tarFile = join(out, "layer.tar");
  // Reproducible: sorted names, one mtime, numeric root ownership.
  // prettier-ignore
  await run("tar", [
    "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--xattrs",
    "-C", rootDir, "-cf", tarFile, ".",
  ]);
  const diff = createHash("sha256");
  const compressed = createHash("sha256");
  const gzFile = join(out, "layer.tar.gz");
  await pipeline(
    createReadStream(tarFile),
    hashing(diff),
    createGzip(),
    hashing(compressed),
    createWriteStream(gzFile),
  );
  await rm(tarFile);
  const layerDigest = `sha256:${compressed.digest("hex")}`;
  const layerSize = (await stat(gzFile)).size;
  await rename(gzFile, join(blobs, layerDigest.slice(7)));
  const config = await writeBlob(
    blobs,
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: runtimeConfig(readDockerfile()),
      rootfs: { type: "layers", diff_ids: [`sha256:${diff.digest("hex")}`] },
      history: [
        { created_by: "scripts/image/build.ts (debootstrap minbase, node from npm, the packed product)" },
      ],
    }),
  );
  const manifest = await writeBlob(
    blobs,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layerSize },
      ],
    }),
  );
  await writeFile(join(out, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(out, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": version },
        },
      ],
    }),
  );
}

const { values } = parseArgs({
  options: { package: { type: "string" }, out: { type: "string" }, "deb-cache": { type: "string" } },
});
if (!values.out) {
  process.stderr.write(
    "usage: node scripts/image/build.ts --out DIR [--package aks-ipvlan.tgz] [--deb-cache DIR] (as root)\n",
  );
  process.exit(2);
}
const out = values.out;
const packageRoot = join(import.meta.dirname, "../..");
const { version } = z
  .object({ version: z.string() })
  .parse(JSON.parse(await readFile(join(packageRoot, "package.json"), "utf8")));
const started = performance.now();
let packageTgz = values.package;
if (!packageTgz) {
  // No package given: pack this checkout (npm run build first, through prepack).
  await mkdir(out, { recursive: true });
  await run("npm", ["pack", packageRoot, "--pack-destination", out]);
  packageTgz = join(out, `aks-ipvlan-${version}.tgz`);
}
await rootfs(join(out, "rootfs"), packageTgz, values["deb-cache"] ?? join(out, "debs"));
const rootfsMs = performance.now() - started;
await ociLayout(join(out, "rootfs"), join(out, "oci"), version);
const seconds = (ms: number) => Math.round(ms / 1000);
process.stdout.write(
  `image: ${out}/oci (root file system ${seconds(rootfsMs)} s, layout ${seconds(performance.now() - started - rootfsMs)} s)\n`,
);
