import { describe, expect, it } from "vitest";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeConflist, writeConflist } from "./cni-files.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";

describe("the conflist file", () => {
  it("is written once, and a killed writer's temp file is removed, other files are not", async () => {
    const dir = await tempDir("netd-");
    await writeFile(join(dir, ".10-aks-ipvlan.conflist.4242.1700000000000.tmp"), "{half");
    await writeFile(join(dir, "99-loopback.conf"), "{}");
    await writeFile(join(dir, ".other.tmp"), "");
    expect(await writeConflist(dir, "{}\n")).toBe(true);
    expect(await writeConflist(dir, "{}\n")).toBe(false);
    expect((await readdir(dir)).sort()).toEqual([".other.tmp", "10-aks-ipvlan.conflist", "99-loopback.conf"]);
    expect(await removeConflist(dir)).toBe(true);
    expect(await removeConflist(dir)).toBe(false);
  });
});
