import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirSync } from "../../test/fakes/temp-dir.ts";
import { withNodeLock } from "./node-lock.ts";

describe("withNodeLock", () => {
  it("runs the work under the lock and releases it", async () => {
    const lock = join(tempDirSync("aks-ipvlan-lock-"), "run/agent.lock");
    expect(await withNodeLock(lock, async () => "done")).toBe("done");
    expect(await withNodeLock(lock, async () => "again")).toBe("again");
  });

  // The crash: flock exits before our write reaches it (EPIPE on its stdin), about half the
  // runs. Twenty rounds make a race that loses half the time show itself.
  it("rejects with flock's cause, never an unhandled 'error' event, when the lock file cannot be created", async () => {
    for (let round = 0; round < 20; round++) {
      let ran = false;
      await expect(
        withNodeLock("/proc/self/aks-ipvlan.lock", async () => {
          ran = true;
        }),
      ).rejects.toThrow(
        /cannot lock \/proc\/self\/aks-ipvlan\.lock: flock exited \d+: flock: cannot open lock file/,
      );
      expect(ran).toBe(false);
    }
  });

  // Node's recursive mkdir never returns under /proc; the lock's directory is made step by step.
  it("rejects when the lock's directory cannot be made (under /proc, below a file)", async () => {
    await expect(withNodeLock("/proc/nope/run/agent.lock", async () => undefined)).rejects.toThrow(
      /ENOENT: no such file or directory, mkdir '\/proc\/nope'/,
    );
    const file = join(tempDirSync("aks-ipvlan-lock-"), "plain");
    writeFileSync(file, "");
    await expect(withNodeLock(join(file, "run/agent.lock"), async () => undefined)).rejects.toThrow(
      /ENOTDIR/,
    );
  });
});
