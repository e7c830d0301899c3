// SIGKILL during conflist writes never leaves an invalid conflist. A child process runs the agent's
// conflist writer in a loop (alternating two valid conflists) and is killed at a random moment, 100
// times. This is a file-system property (temp file, fsync, rename), so it runs on the host's kernel.
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import { parseSpec } from "../../src/spec/load.ts";
import { plan } from "../../src/ipam/planner.ts";
import { conflistText, renderConflist, CONFLIST_FILE } from "../../src/cni/conflist.ts";
import { writeConflist } from "../../src/agent/cni-files.ts";
import { tempDir } from "../fakes/temp-dir.ts";

const KILLS = 100;
const writer = pathToFileURL(resolve(import.meta.dirname, "../../src/agent/cni-files.ts")).href;

describe("killing the agent while it writes the conflist", () => {
  it(`leaves a complete conflist every time (${KILLS} SIGKILLs)`, { timeout: 300_000 }, async () => {
    const spec = parseSpec(readFileSync(resolve(import.meta.dirname, "../../examples/seed.yaml"), "utf8"));
    const node = plan(spec).nodes[0]!;
    const versions = [
      conflistText(renderConflist(spec, node)),
      conflistText(renderConflist({ ...spec, mtu: 1400 }, node)),
    ];
    const dir = await tempDir("conflist-kill-");
    const code = `
      const { writeConflist } = await import(${JSON.stringify(writer)});
      const versions = ${JSON.stringify(versions)};
      for (let i = 0; ; i++) {
        await writeConflist(${JSON.stringify(dir)}, versions[i % 2]);
        if (i === 0) process.stdout.write("writing\\n");
      }`;
    let killedMidWrite = 0;
    for (let i = 0; i < KILLS; i++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      await new Promise<void>((started) => child.stdout.once("data", () => started()));
      // A random point in the write loop, not a synchronisation: any moment must be safe.
      await new Promise((wait) => setTimeout(wait, Math.random() * 20));
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGKILL");
      await exited;
      const text = await readFile(join(dir, CONFLIST_FILE), "utf8");
      expect(versions, `after kill ${i + 1}`).toContain(text);
      expect(() => JSON.parse(text)).not.toThrow();
      const files = await readdir(dir);
      if (files.some((file) => file.endsWith(".tmp"))) killedMidWrite++;
      // Only our file can be loaded by the runtime (libcni reads *.conf, *.conflist, *.json).
      expect(files.filter((file) => /\.(conf|conflist|json)$/.test(file))).toEqual([CONFLIST_FILE]);
    }
    console.log(
      `${KILLS} kills, ${killedMidWrite} of them left a temp file behind (killed between create and rename)`,
    );
    // The kills must actually hit the write window, or this test proves nothing.
    expect(killedMidWrite).toBeGreaterThan(0);
    // The next write by a live agent removes the dead writers' temp files.
    await writeConflist(dir, versions[0]!);
    expect(await readdir(dir)).toEqual([CONFLIST_FILE]);
  });
});
