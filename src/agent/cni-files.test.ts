import { describe, expect, it } from "vitest";
import { readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeConflist, writeConflist } from "./cni-files.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";

describe("the conflist file", () => {
  it("is written once; a killed writer's old temp file is removed, a live writer's and other files are not", async () => {
    const dir = await tempDir("netd-");
    const killed = join(dir, ".10-aks-ipvlan.conflist.4242.0a1b2c3d4e5f.tmp");
    await writeFile(killed, "{half");
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(killed, hourAgo, hourAgo);
    // Another agent's temp, written just now: it may be about to be renamed into place.
    const live = ".10-aks-ipvlan.conflist.4343.f5e4d3c2b1a0.tmp";
    await writeFile(join(dir, live), "{}\n");
    await writeFile(join(dir, "99-loopback.conf"), "{}");
    await writeFile(join(dir, ".other.tmp"), "");
    expect(await writeConflist(dir, "{}\n")).toBe(true);
    expect(await writeConflist(dir, "{}\n")).toBe(false);
    expect((await readdir(dir)).sort()).toEqual([
      live,
      ".other.tmp",
      "10-aks-ipvlan.conflist",
      "99-loopback.conf",
    ]);
    expect(await removeConflist(dir)).toBe(true);
    expect(await removeConflist(dir)).toBe(false);
  });
});
