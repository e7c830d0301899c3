// The package as a user gets it, made once per content: `npm pack` (which builds dist/) and an install
// of the tarball into an empty prefix, cached under ${XDG_CACHE_HOME:-~/.cache}/aks-ipvlan/package/HASH,
// HASH over every file the tarball is made from, so a second run (or CI after this machine's run) finds
// it and a change to any of them makes a new one. Shared by the installed-package and the image tests.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { run } from "../../src/sys/exec.ts";

export const ROOT = join(import.meta.dirname, "../..");
const INPUT_FILES = [
  "package.json",
  "package-lock.json",
  "README.md",
  "tsconfig.json",
  "tsconfig.build.json",
  "scripts/build.ts",
  "scripts/setup-host.sh",
];
const INPUT_DIRS = ["src", "schema", "examples"];

export function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "aks-ipvlan");
}

/** PATH with this Node first: npm's scripts (`node scripts/build.ts`) and the installed bin need Node 22. */
export function nodeEnv(extraPath: string[] = []): NodeJS.ProcessEnv {
  return { ...process.env, PATH: [...extraPath, dirname(process.execPath), process.env.PATH].join(":") };
}

/** A hash of every file the package is made from (path and content), in a stable order. */
async function inputHash(files: readonly string[], dirs: readonly string[]): Promise<string> {
  const paths = [...files];
  for (const dir of dirs) {
    const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      if (entry.isFile()) paths.push(relative(ROOT, join(entry.parentPath, entry.name)));
    }
  }
  const hash = createHash("sha256");
  for (const path of paths.sort()) {
    hash.update(`${path}\0`);
    hash.update(await readFile(join(ROOT, path)));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

/** A build older than this holding the lock is taken for dead (a killed run). */
const STALE_LOCK_MS = 60 * 60_000;

/**
 * Makes `dir` with `make` into a temporary sibling and renames it into place: a half-made one never
 * counts. One maker at a time (test files run in parallel, and `npm pack` rebuilds the clone's dist/):
 * the others wait for its result. True when `dir` was there already.
 */
export async function cached(dir: string, make: (into: string) => Promise<void>): Promise<boolean> {
  if (existsSync(dir)) {
    const now = new Date();
    await utimes(dir, now, now); // used: the newest for pruneOlder
    return true;
  }
  await mkdir(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const locked = await mkdir(lock).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
      return false;
    },
  );
  if (!locked) {
    await untilUnlocked(lock);
    return cached(dir, make);
  }
  const temporary = await mkdtemp(`${dir}.tmp-`);
  try {
    await make(temporary);
    await rename(temporary, dir);
  } finally {
    await rm(temporary, { recursive: true, force: true });
    await rm(lock, { recursive: true, force: true });
  }
  await pruneOlder(dirname(dir));
  return false;
}

/** Resolves when the lock is gone (its maker finished or failed), or stale (then removes it). */
async function untilUnlocked(lock: string): Promise<void> {
  for (;;) {
    const held = await stat(lock).then(
      (info) => info.mtimeMs,
      () => undefined,
    );
    if (held === undefined) return;
    if (Date.now() - held > STALE_LOCK_MS) {
      await rm(lock, { recursive: true, force: true });
      return;
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
  }
}

/** Each build takes hundreds of MB: the cache keeps the newest few (other checkouts' among them). */
const KEEP = 3;

async function pruneOlder(parent: string): Promise<void> {
  const names = (await readdir(parent)).filter((name) => /^[0-9a-f]{16}$/.test(name));
  const dated = await Promise.all(
    names.map(async (name) => ({ name, mtimeMs: (await stat(join(parent, name))).mtimeMs })),
  );
  dated.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { name } of dated.slice(KEEP)) await rm(join(parent, name), { recursive: true, force: true });
}

export interface PackedPackage {
  tarball: string;
  /** The prefix the tarball was installed into: bin/aks-ipvlan, lib/node_modules/aks-ipvlan. */
  prefix: string;
  hash: string;
  /** False when this call packed and installed it (the figures below are then this run's). */
  warm: boolean;
  packMs?: number;
  installMs?: number;
}

/** The packed and installed package for the sources as they are (see the file's head). */
export async function packedPackage(): Promise<PackedPackage> {
  const hash = await inputHash(INPUT_FILES, INPUT_DIRS);
  const dir = join(cacheRoot(), "package", hash);
  const figures: { packMs?: number; installMs?: number } = {};
  const warm = await cached(dir, async (into) => {
    let started = performance.now();
    // Runs prepack (npm run build) in the clone, then packs what package.json's "files" names.
    await run("npm", ["pack", ROOT, "--pack-destination", into], { env: nodeEnv() });
    figures.packMs = Math.round(performance.now() - started);
    const [tarball] = (await readdir(into)).filter((name) => name.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack left no tarball in ${into}`);
    await rename(join(into, tarball), join(into, "aks-ipvlan.tgz"));
    started = performance.now();
    // The dependencies are bundled in the tarball: the install needs no registry and no cache.
    // prettier-ignore
    await run("npm", [
      "install", "--global", "--prefix", join(into, "prefix"), "--offline", "--no-audit", "--no-fund",
      join(into, "aks-ipvlan.tgz"),
    ], { env: nodeEnv() });
    figures.installMs = Math.round(performance.now() - started);
  });
  return { tarball: join(dir, "aks-ipvlan.tgz"), prefix: join(dir, "prefix"), hash, warm, ...figures };
}
