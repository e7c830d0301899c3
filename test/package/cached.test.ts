// The build cache's lock, as the package and image tests share it across processes: a maker that is
// alive makes the others wait for its result; a maker killed mid-build (a session's end, a CI timeout)
// leaves nothing that makes the next run wait or reuse its half-made tree.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, expect, it } from "vitest";
import { cached } from "./packed.ts";

const PACKED = join(import.meta.dirname, "packed.ts");

/**
 * Another process making `dir`: it says "making" once it holds the lock, then writes its part and
 * finishes when it reads a line on stdin.
 */
function otherMaker(dir: string): { child: ChildProcessWithoutNullStreams; holding: Promise<void> } {
  const script = `
    import { cached } from ${JSON.stringify(PACKED)};
    import { writeFile } from "node:fs/promises";
    import { join } from "node:path";
    import { createInterface } from "node:readline";
    await cached(${JSON.stringify(dir)}, async (into) => {
      await writeFile(join(into, "part"), "half");
      console.log("making");
      for await (const _ of createInterface({ input: process.stdin })) break;
      await writeFile(join(into, "part"), "other");
    });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script]);
  const holding = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => line === "making" && resolve());
    child.on("exit", (code) => reject(new Error(`the other maker exited ${code} before it held the lock`)));
  });
  return { child, holding };
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => children.splice(0).forEach((child) => child.kill("SIGKILL")));

function cacheDir(): string {
  return join(mkdtempSync(join(tmpdir(), "aks-ipvlan-cache-")), "0123456789abcdef");
}

it("waits for a live maker and takes its result without making it again", async () => {
  const dir = cacheDir();
  const other = otherMaker(dir);
  children.push(other.child);
  await other.holding;
  let madeHere = false;
  const waiting = cached(dir, async (into) => {
    madeHere = true;
    await writeFile(join(into, "part"), "here");
  });
  other.child.stdin.write("done\n");
  expect(await waiting).toBe(true);
  expect(madeHere).toBe(false);
  expect(readFileSync(join(dir, "part"), "utf8")).toBe("other");
});

it("makes it anew when the maker holding the lock was killed, and removes its half-made tree", async () => {
  const dir = cacheDir();
  const other = otherMaker(dir);
  children.push(other.child);
  await other.holding;
  other.child.kill("SIGKILL");
  const reused = await cached(dir, (into) => writeFile(join(into, "part"), "here"));
  expect(reused).toBe(false);
  expect(readFileSync(join(dir, "part"), "utf8")).toBe("here");
  const parent = join(dir, "..");
  expect(readdirSync(parent).filter((name) => name.includes(".tmp-"))).toEqual([]);
  expect(existsSync(dir)).toBe(true);
});
