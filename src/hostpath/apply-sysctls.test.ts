import { describe, expect, it } from "vitest";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { applySysctls, readSysctl } from "./apply-sysctls.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";

async function fakeProcSys(value: string): Promise<string> {
  const root = await tempDir("procsys-");
  await mkdir(join(root, "net/ipv4"), { recursive: true });
  await writeFile(join(root, "net/ipv4/ip_forward"), value);
  return root;
}

describe("applySysctls", () => {
  it("writes a key whose value differs and reports it", async () => {
    const root = await fakeProcSys("0\n");
    expect(await applySysctls({ "net.ipv4.ip_forward": "1" }, root)).toEqual(["net.ipv4.ip_forward"]);
    expect(await readFile(join(root, "net/ipv4/ip_forward"), "utf8")).toBe("1\n");
    expect(await readSysctl("net.ipv4.ip_forward", root)).toBe("1");
  });

  it("leaves a key that already matches", async () => {
    const root = await fakeProcSys("1\n");
    expect(await applySysctls({ "net.ipv4.ip_forward": "1" }, root)).toEqual([]);
  });

  it("fails on a key the kernel does not have", async () => {
    const root = await fakeProcSys("1\n");
    await expect(applySysctls({ "net.ipv4.no_such_key": "1" }, root)).rejects.toThrow(/ENOENT/);
    expect(await readSysctl("net.ipv4.no_such_key", root)).toBeUndefined();
  });
});
