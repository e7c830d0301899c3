import { describe, expect, it } from "vitest";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findLeaks, listReservations, livePodsFromFile, release } from "./ipam-gc.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";

const HOUR_AGO = (Date.now() - 3600_000) / 1000;

/** host-local's layout: one file per address (container ID CRLF ifname), plus lock and last_reserved_ip.0. */
async function dataDir(files: Record<string, string>, old: string[]): Promise<string> {
  const dir = join(await tempDir("ipam-"), "aks-ipvlan");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "lock"), "");
  await writeFile(join(dir, "last_reserved_ip.0"), "10.224.0.21");
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), content);
    if (old.includes(name)) await utimes(join(dir, name), HOUR_AGO, HOUR_AGO);
  }
  return dir;
}

describe("leak collection", () => {
  it("lists only reservations inside the node's blocks", async () => {
    const dir = await dataDir({ "10.224.0.17": "c1\r\neth0", "10.224.0.40": "c2\r\neth0" }, []);
    const reservations = await listReservations(dir, ["10.224.0.16/28"]);
    expect(reservations.map((r) => [r.ip, r.containerId])).toEqual([["10.224.0.17", "c1"]]);
  });

  it("treats a missing data dir as no reservations", async () => {
    expect(await listReservations("/nonexistent/aks-ipvlan", ["10.224.0.16/28"])).toEqual([]);
  });

  it("releases an address no live pod has once the grace period passed; live pods and young ones keep theirs", async () => {
    const dir = await dataDir(
      { "10.224.0.17": "live\r\neth0", "10.224.0.18": "leaked\r\neth0", "10.224.0.19": "young\r\neth0" },
      ["10.224.0.17", "10.224.0.18"],
    );
    const reservations = await listReservations(dir, ["10.224.0.16/28"]);
    const leaks = findLeaks(reservations, new Set(["10.224.0.17"]), 300, Date.now());
    expect(leaks.map((l) => l.ip)).toEqual(["10.224.0.18"]);
    expect(await release(dir, leaks)).toEqual(["10.224.0.18"]);
    expect((await readdir(dir)).sort()).toEqual(["10.224.0.17", "10.224.0.19", "last_reserved_ip.0", "lock"]);
  });

  it("keeps a reservation that a new ADD took over between listing and release", async () => {
    const dir = await dataDir({ "10.224.0.18": "leaked\r\neth0" }, ["10.224.0.18"]);
    const leaks = findLeaks(await listReservations(dir, ["10.224.0.16/28"]), new Set(), 300, Date.now());
    await writeFile(join(dir, "10.224.0.18"), "new-pod\r\neth0");
    expect(await release(dir, leaks)).toEqual([]);
    expect(await readdir(dir)).toContain("10.224.0.18");
  });

  it("reads live pod IPs from a file, one per line", async () => {
    const file = join(await tempDir("live-"), "pods");
    await writeFile(file, "# node1\n10.224.0.17\n\n10.224.0.20\n");
    expect([...(await livePodsFromFile(file).podIps())]).toEqual(["10.224.0.17", "10.224.0.20"]);
  });
});
