import { describe, expect, it } from "vitest";
import { applyHostPath, cleanupHostPath, planHostPath } from "./apply.ts";
import type { Link, Route } from "../sys/ip-json.ts";
import type { HostPath } from "./desired.ts";
import { fakeRunner } from "../../test/fakes/runner.ts";

const desired: HostPath = {
  device: "ipvl-host",
  master: "eth0",
  routes: [{ dst: "10.224.0.16/28", dev: "ipvl-host", src: "10.224.0.4" }],
  sysctls: { "net.ipv4.ip_forward": "1" },
};
const eth0: Link = { ifname: "eth0", flags: ["UP"], linkinfo: {} };
const hostDevice: Link = {
  ifname: "ipvl-host",
  link: "eth0",
  flags: ["BROADCAST", "NOARP", "UP", "LOWER_UP"],
  linkinfo: { info_kind: "ipvlan", info_data: { mode: "l3s" } },
};
const blockRoute: Route = { dst: "10.224.0.16/28", dev: "ipvl-host", prefsrc: "10.224.0.4" };
const connected: Route = { dst: "10.224.0.0/16", dev: "eth0", prefsrc: "10.224.0.4" };

describe("planHostPath", () => {
  it("changes nothing when device and routes match", () => {
    expect(planHostPath(desired, [eth0, hostDevice], [connected, blockRoute])).toEqual({
      batch: [],
      repairs: [],
    });
  });

  it("creates the device in l3s on the master, brings it up and routes the block with the node IP as source", () => {
    const result = planHostPath(desired, [eth0], [connected]);
    expect(result.batch).toEqual([
      "link add ipvl-host link eth0 type ipvlan mode l3s",
      "link set ipvl-host up",
      "route replace 10.224.0.16/28 dev ipvl-host src 10.224.0.4",
    ]);
    expect(result.repairs.map((r) => r.kind)).toEqual(["host-device-missing", "host-route-missing"]);
  });

  it("brings a downed device up and restores a deleted route", () => {
    const down = { ...hostDevice, flags: ["BROADCAST", "NOARP"] };
    const result = planHostPath(desired, [eth0, down], [connected]);
    expect(result.batch).toEqual([
      "link set ipvl-host up",
      "route replace 10.224.0.16/28 dev ipvl-host src 10.224.0.4",
    ]);
    expect(result.repairs.map((r) => r.kind)).toEqual(["host-device-down", "host-route-missing"]);
  });

  it("replaces a route with the wrong source and deletes routes of blocks the node lost", () => {
    const routes = [
      { ...blockRoute, prefsrc: "10.224.0.99" },
      { dst: "10.224.0.32/28", dev: "ipvl-host", prefsrc: "10.224.0.4" },
      { dst: "10.9.9.9", dev: "ipvl-host" },
    ];
    const result = planHostPath(desired, [eth0, hostDevice], routes);
    expect(result.batch).toEqual([
      "route replace 10.224.0.16/28 dev ipvl-host src 10.224.0.4",
      "route del 10.224.0.32/28 dev ipvl-host",
      "route del 10.9.9.9/32 dev ipvl-host",
    ]);
  });

  it("recreates a device of our name that is not an ipvlan on the master", () => {
    const impostor = { ifname: "ipvl-host", flags: ["UP"], linkinfo: { info_kind: "dummy" } };
    const result = planHostPath(desired, [eth0, impostor], [blockRoute]);
    expect(result.batch.slice(0, 3)).toEqual([
      "link del ipvl-host",
      "link add ipvl-host link eth0 type ipvlan mode l3s",
      "link set ipvl-host up",
    ]);
    expect(result.repairs[0]!.kind).toBe("host-device-changed");
  });

  it("refuses when an ipvlan of another mode sits on the master (it would switch every pod)", () => {
    const l2 = {
      ifname: "other0",
      link: "eth0",
      linkinfo: { info_kind: "ipvlan", info_data: { mode: "l2" } },
    };
    expect(() => planHostPath(desired, [eth0, l2], [])).toThrow(/other0 on it uses mode l2.*share one mode/);
    const switched = { ...hostDevice, linkinfo: { info_kind: "ipvlan", info_data: { mode: "l2" } } };
    expect(() => planHostPath(desired, [eth0, switched, l2], [])).toThrow(/device other0 on it/);
    // An l2 ipvlan on another master is no concern of ours.
    expect(() => planHostPath(desired, [eth0, { ...l2, link: "eth1" }], [])).not.toThrow();
  });

  it("fails clearly when the master interface is missing", () => {
    expect(() => planHostPath(desired, [], [])).toThrow(/master interface eth0 does not exist/);
  });
});

describe("applyHostPath", () => {
  it("reads links and routes as JSON and applies the plan with one ip -batch", async () => {
    const runner = fakeRunner()
      .on("ip -json -details link show", { stdout: JSON.stringify([eth0]) })
      .on("ip -json -4 route show table main", { stdout: JSON.stringify([connected]) })
      .on("ip -batch -", {});
    await applyHostPath(runner.run, desired);
    expect(runner.calls).toHaveLength(3);
    expect(runner.calls[2]!.input).toBe(
      "link add ipvl-host link eth0 type ipvlan mode l3s\nlink set ipvl-host up\nroute replace 10.224.0.16/28 dev ipvl-host src 10.224.0.4\n",
    );
  });

  it("cleanup deletes the device only when it exists", async () => {
    const present = fakeRunner()
      .on("ip -json -details link show", { stdout: JSON.stringify([eth0, hostDevice]) })
      .on("ip -json -4 route", { stdout: "[]" })
      .on("ip link del ipvl-host", {});
    expect(await cleanupHostPath(present.run, "ipvl-host")).toBe(true);
    const absent = fakeRunner()
      .on("ip -json -details link show", { stdout: JSON.stringify([eth0]) })
      .on("ip -json -4 route", { stdout: "[]" });
    expect(await cleanupHostPath(absent.run, "ipvl-host")).toBe(false);
    expect(absent.calls.some((c) => c.args.includes("del"))).toBe(false);
  });
});
