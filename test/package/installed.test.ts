// The package as a user installs it: packed (`npm pack`, which builds dist/), installed into an empty
// prefix with no registry, and run from there: plan, render, lint, the host set-up command and the demo
// on a real kernel. Also: the installed dependency tree is the lockfile's (the tree every test ran), and
// nothing of the development tree came along.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ROOT, nodeEnv, packedPackage, type PackedPackage } from "./packed.ts";

const DEMO_TIMEOUT_MS = 30 * 60_000;
let packed: PackedPackage;
let installed: string;

beforeAll(async () => {
  packed = await packedPackage();
  installed = join(packed.prefix, "lib/node_modules/aks-ipvlan");
  const figures = packed.warm
    ? "cached"
    : `npm pack ${packed.packMs} ms, offline install ${packed.installMs} ms`;
  console.log(`package ${packed.hash}: ${figures}`);
}, DEMO_TIMEOUT_MS);

/** The installed bin, as a user's shell finds it (Node 22 first on PATH for its `#!/usr/bin/env node`). */
function aksIpvlan(args: string[], timeoutMs = 60_000) {
  const result = spawnSync(join(packed.prefix, "bin/aks-ipvlan"), args, {
    cwd: tmpdir(),
    encoding: "utf8",
    env: { ...nodeEnv(), NO_COLOR: "1" },
    timeout: timeoutMs,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const LockSchema = z.object({
  packages: z.record(z.string(), z.object({ version: z.string().optional(), dev: z.boolean().optional() })),
});
const VersionSchema = z.object({ version: z.string() });
const versionAt = (dir: string) =>
  VersionSchema.parse(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).version;

describe("the installed package", () => {
  it("holds the lockfile's production tree, version for version, and none of its development tree", () => {
    const lock = LockSchema.parse(JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")));
    const entries = Object.entries(lock.packages).filter(([path]) => path.startsWith("node_modules/"));
    // Optional packages for other platforms are in the lock but in no node_modules: only those here.
    const production = entries.filter(([path, entry]) => !entry.dev && existsSync(join(ROOT, path)));
    expect(production.length).toBeGreaterThan(50);
    for (const [path, entry] of production) {
      expect({ path, version: versionAt(join(installed, path)) }).toEqual({ path, version: entry.version });
    }
    for (const [path] of entries.filter(([, entry]) => entry.dev)) {
      expect({ path, installed: existsSync(join(installed, path)) }).toEqual({ path, installed: false });
    }
    expect(existsSync(join(installed, "src"))).toBe(false);
  });

  it("plans, renders and lints from the installed examples", () => {
    const seed = join(installed, "examples/seed.yaml");
    const planned = aksIpvlan(["plan", "--config", seed]);
    expect(planned.stderr).toBe("");
    expect(planned.code).toBe(0);
    expect(planned.stdout).toMatch(/node1\s+10\.224\.0\.4\s+10\.224\.0\.16\/28/);

    const out = join(mkdtempSync(join(tmpdir(), "aks-ipvlan-installed-")), "rendered");
    const rendered = aksIpvlan(["render", "--config", seed, "--out", out]);
    expect(rendered.code).toBe(0);
    const conflist = join(out, "nodes/node1/10-aks-ipvlan.conflist");
    expect(existsSync(join(out, "manifests.yaml"))).toBe(true);

    const clean = aksIpvlan(["lint", "--config", seed, conflist]);
    expect(clean.stdout).toBe(`${conflist}: ok\n`);
    expect(clean.code).toBe(0);
    // The control: the seed's original conflist is refused by the same installed lint.
    const seedOriginal = aksIpvlan(["lint", join(ROOT, "test/fixtures/lint/seed-original.conflist")]);
    expect(seedOriginal.code).toBe(1);
    expect(seedOriginal.stdout).toMatch(/^error /m);
  });

  it("names its own set-up command in hints, and that command exists there", async () => {
    const { setupCommand } = (await import(join(installed, "dist/testbed/runners/runner.js"))) as {
      setupCommand: (runner?: "qemu") => string;
    };
    expect(setupCommand()).toBe("aks-ipvlan setup-host");
    expect(setupCommand("qemu")).toBe("aks-ipvlan setup-host --runner qemu");
    const help = aksIpvlan(["setup-host", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--runner");
    const bad = aksIpvlan(["setup-host", "--runner", "vmware"]);
    expect(bad.code).toBe(2);
  });

  it(
    "sets up the host and runs the demo: boots the guest from its dist/ and passes every check",
    () => {
      const setup = aksIpvlan(["setup-host"], DEMO_TIMEOUT_MS);
      expect(setup.stderr + setup.stdout).toContain("ready for the auto runner");
      expect(setup.code).toBe(0);
      // No policies: their cases are e2e tests of their own; the checks prove the installed guest.
      const demo = aksIpvlan(["demo", "--no-policies"], DEMO_TIMEOUT_MS);
      console.log(demo.stdout.split("\n").slice(-4).join("\n"), demo.stderr.split("\n").slice(-6).join("\n"));
      expect(demo.stdout).toContain("every check passed");
      expect(demo.stdout).not.toMatch(/\bFAIL\b/);
      expect(demo.code).toBe(0);
    },
    DEMO_TIMEOUT_MS,
  );
});
