import { describe, expect, it } from "vitest";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { installCni } from "./install-cni.ts";
import { UserError } from "../errors/user-error.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";

async function dirs() {
  const root = await tempDir("install-cni-");
  const from = join(root, "image");
  const to = join(root, "host");
  await mkdir(from);
  await mkdir(to);
  for (const plugin of ["ipvlan", "host-local", "portmap"]) {
    await writeFile(join(from, plugin), `image ${plugin}`, { mode: 0o755 });
  }
  return { from, to };
}

describe("installCni", () => {
  it("copies only the missing plugins, executable, and keeps the node's own", async () => {
    const { from, to } = await dirs();
    await writeFile(join(to, "portmap"), "node's portmap", { mode: 0o755 });
    expect(await installCni(from, to)).toEqual([
      { plugin: "ipvlan", action: "installed" },
      { plugin: "host-local", action: "installed" },
      { plugin: "portmap", action: "present" },
    ]);
    expect(await readFile(join(to, "portmap"), "utf8")).toBe("node's portmap");
    expect(await readFile(join(to, "ipvlan"), "utf8")).toBe("image ipvlan");
    expect((await stat(join(to, "ipvlan"))).mode & 0o777).toBe(0o755);
    expect((await readdir(to)).sort()).toEqual(["host-local", "ipvlan", "portmap"]);
    expect((await installCni(from, to)).every((r) => r.action === "present")).toBe(true);
  });

  it("fails with a fix when the image lacks a plugin", async () => {
    const { to } = await dirs();
    await expect(installCni(join(to, "nowhere"), to)).rejects.toThrow(UserError);
  });
});
