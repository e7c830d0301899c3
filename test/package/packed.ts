// The package as a user gets it, made once per content: `npm pack` (which builds dist/) and an install
// of the tarball into an empty prefix, cached under ${XDG_CACHE_HOME:-~/.cache}/aks-ipvlan/package/HASH,
// HASH over every file the tarball is made from, so a second run (or CI after this machine's run) finds
// it and a change to any of them makes a new one. Shared by the installed-package and the image tests.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { run } from "../../src/sys/exec.ts";
import { withNodeLock } from "../../src/sys/node-lock.ts";

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

/**
 * Makes `dir` with `make` into a temporary sibling and renames it into place: a half-made one never
 * counts. One maker at a time (test files run in parallel, and `npm pack` rebuilds the clone's dist/),
 * also across checkouts and CI runs on one machine: the others wait for its result. The lock is
 * flock(2)'s, which the kernel drops when its holder dies: a run killed mid-build (a session's end)
 * leaves no lock that makes the next run wait. True when `dir` was there already.
 */
export async function cached(dir: string, make: (into: string) => Promise<void>): Promise<boolean> {
  if (await reuse(dir)) return true;
  await mkdir(dirname(dir), { recursive: true });
  return withNodeLock(`${dir}.flock`, async () => {
    if (await reuse(dir)) return true; // made by the holder we waited for
    await removeLeftovers(dir);
    const temporary = await mkdtemp(`${dir}.tmp-`);
    try {
      await make(temporary);
      await rename(temporary, dir);
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
    await pruneOlder(dirname(dir));
    return false;
  });
}

async function reuse(dir: string): Promise<boolean> {
  if (!existsSync(dir)) return false;
  const now = new Date();
  await utimes(dir, now, now); // used: the newest for pruneOlder
  return true;
}

/** What killed makers of `dir` left: their temporary trees (we hold the lock: none is live). */
async function removeLeftovers(dir: string): Promise<void> {
  const prefix = `${basename(dir)}.tmp-`;
  for (const name of await readdir(dirname(dir))) {
    if (name.startsWith(prefix)) await rm(join(dirname(dir), name), { recursive: true, force: true });
  }
}

/** Each build takes hundreds of MB: the cache keeps the newest few (other checkouts' among them). */
const KEEP = 3;
/** Another hash's temporary tree this old belongs to no live maker (builds take minutes). */
const ABANDONED_MS = 3 * 60 * 60_000;

async function pruneOlder(parent: string): Promise<void> {
  const entries = await Promise.all(
    (await readdir(parent)).map(async (name) => ({
      name,
      mtimeMs: (await stat(join(parent, name))).mtimeMs,
    })),
  );
  const made = entries.filter(({ name }) => /^[0-9a-f]{16}$/.test(name));
  made.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const kept = new Set(made.slice(0, KEEP).map(({ name }) => name));
  const stale = entries.filter(
    ({ name, mtimeMs }) =>
      (/^[0-9a-f]{16}$/.test(name) && !kept.has(name)) ||
      // an earlier version's lock directories, and temporary trees of killed makers of other hashes
      /^[0-9a-f]{16}\.lock$/.test(name) ||
      (/^[0-9a-f]{16}\.tmp-/.test(name) && Date.now() - mtimeMs > ABANDONED_MS),
  );
  for (const { name } of stale) await rm(join(parent, name), { recursive: true, force: true });
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
