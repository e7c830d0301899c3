// The guest's programs as bundles: a Node start in a UML guest reads every module through hostfs, and
// a program of ours imports hundreds (measured: `agent --help` 3.4–4.8 s from the sources, 1.6–2.4 s
// from a split bundle, 3.9–4.2 s from one unsplit 9.6 MB file, whose parse costs what the reads saved).
// So each program is bundled with esbuild, split at its dynamic imports (the CLI loads only the command
// it runs), under .testbed/programs/<hash of the inputs>/ with the sources' layout (src/cli/main.ts →
// src/cli/main.mjs), shared by every run of the same code. Where esbuild is not installed (the
// published package) the guest runs the program files as they are.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { extname, join, relative, resolve } from "node:path";
import { REPO } from "./runners/runner.ts";

/** Where the guest finds its programs (guest code reads them through guestProgram and guestCli). */
export const PROGRAMS_VARIABLE = "TESTBED_PROGRAMS";
const CLI_VARIABLE = "TESTBED_CLI";
const PROGRAMS_DIR = join(REPO, ".testbed", "programs");

/** The CLI beside this module: src/cli/main.ts in a clone, dist/cli/main.js in the package. */
const CLI_SOURCE = resolve(import.meta.dirname, `../cli/main${extname(import.meta.filename)}`);

// Some dependencies call require(); an ES module bundle has none of its own.
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/**
 * Bundles `sources` (absolute paths under the repository) and returns the directory that holds them,
 * or undefined where esbuild is not installed.
 */
async function bundlePrograms(sources: readonly string[]): Promise<string | undefined> {
  const esbuild = await import("esbuild").catch(() => undefined);
  if (!esbuild) return undefined;
  // Named by its inputs, so that a run of unchanged code skips esbuild (seconds on a busy host).
  const target = join(PROGRAMS_DIR, await inputHash(sources));
  if (await exists(target)) {
    // Marks it in use, so that a prune by a run of other code spares it.
    const now = new Date();
    await utimes(target, now, now).catch(() => undefined);
    return target;
  }
  await mkdir(PROGRAMS_DIR, { recursive: true });
  const staging = await mkdtemp(join(PROGRAMS_DIR, ".new-"));
  try {
    // One build per program: a module shared by two entries would move into a chunk, and an entry's
    // own import.meta.url (the CLI's "am I the main module" check) must stay its own file.
    for (const source of new Set(sources)) {
      await esbuild.build({
        entryPoints: [source],
        outbase: REPO,
        outdir: staging,
        outExtension: { ".js": ".mjs" },
        bundle: true,
        splitting: true,
        format: "esm",
        platform: "node",
        target: "node22",
        banner: { js: REQUIRE_SHIM },
        logLevel: "silent",
      });
    }
    // Parallel test files may bundle the same code at once: the first rename wins, the rest find it.
    await rename(staging, target).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await exists(target))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  await pruneOlderThan(target);
  return target;
}

/**
 * Bundles of code that changed since (each is a few MB): those unused for an hour go, but the few
 * newest stay. A guest may run from any bundle used recently (parallel runs of other code).
 */
async function pruneOlderThan(newest: string): Promise<void> {
  const KEEP = 4;
  const UNUSED_MS = 3_600_000;
  const dirs = (await readdir(PROGRAMS_DIR)).filter((name) => !name.startsWith("."));
  // A concurrent prune may remove a directory between the listing and its stat: then it is gone anyway.
  const dated = (
    await Promise.all(
      dirs.map(async (name) => {
        const path = join(PROGRAMS_DIR, name);
        const mtime = await stat(path).then(
          (stats) => stats.mtimeMs,
          () => undefined,
        );
        return mtime === undefined ? [] : [{ path, mtime }];
      }),
    )
  ).flat();
  const old = dated
    .filter((dir) => dir.path !== newest)
    .sort((a, b) => b.mtime - a.mtime)
    .slice(KEEP - 1)
    .filter((dir) => Date.now() - dir.mtime > UNUSED_MS);
  for (const dir of old) await rm(dir.path, { recursive: true, force: true });
}

/** The entries, every source file a bundle can contain, and the locked dependency tree. */
async function inputHash(sources: readonly string[]): Promise<string> {
  const hash = createHash("sha256").update(JSON.stringify([...new Set(sources)].sort()));
  const files = ["package-lock.json"];
  for (const dir of ["src", "test", "bench"]) {
    const entries = await readdir(join(REPO, dir), { recursive: true }).catch(() => []);
    files.push(...entries.filter((entry) => entry.endsWith(".ts")).map((entry) => join(dir, entry)));
  }
  for (const file of files.sort())
    hash
      .update(file)
      .update("\0")
      .update(await readFile(join(REPO, file)))
      .update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** What the guest runs: the entry's file, and the environment that tells the guest where the rest is. */
export interface GuestPrograms {
  entry: string;
  env: Record<string, string>;
}

/** Bundles the guest's entry, the CLI and `others` (absolute paths), where esbuild is installed. */
export async function prepareGuestPrograms(
  entry: string,
  others: readonly string[] = [],
): Promise<GuestPrograms> {
  const inRepo = (programs: string, source: string) => bundledPath(programs, relative(REPO, source));
  // Inside a guest (the native runner nested in UML) the host's bundles are already there, and a
  // bundle cannot locate its own CLI: the environment says where both are.
  const inherited = process.env[PROGRAMS_VARIABLE];
  const inheritedCli = process.env[CLI_VARIABLE];
  if (inherited && inheritedCli) {
    return {
      entry: inRepo(inherited, entry),
      env: { [PROGRAMS_VARIABLE]: inherited, [CLI_VARIABLE]: inheritedCli },
    };
  }
  const programs = await bundlePrograms([entry, CLI_SOURCE, ...others]);
  if (!programs) return { entry, env: { [CLI_VARIABLE]: CLI_SOURCE } };
  return {
    entry: inRepo(programs, entry),
    env: { [PROGRAMS_VARIABLE]: programs, [CLI_VARIABLE]: inRepo(programs, CLI_SOURCE) },
  };
}

/** The bundle of `path` (relative to the repository) in `programs`; guests get REPO from init.sh. */
export function bundledPath(programs: string, path: string): string {
  return join(programs, path.replace(/\.ts$/, ".mjs"));
}

/** In the guest: the CLI to run the node agent with. */
export function guestCli(): string {
  const cli = process.env[CLI_VARIABLE];
  if (!cli) throw new Error(`${CLI_VARIABLE} is not set: the guest was not started by src/testbed/run.ts`);
  return cli;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
