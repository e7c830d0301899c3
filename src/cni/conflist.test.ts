import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.ts";
import { plan } from "../ipam/planner.ts";
import { IPAM_DATA_DIR, REQUIRED_PLUGINS, conflistText, renderConflist } from "./conflist.ts";

const seed = parseSpec(readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8"));
const golden = (name: string) =>
  readFileSync(new URL(`../../test/fixtures/golden/${name}`, import.meta.url), "utf8");

describe("renderConflist", () => {
  it.each(["node1", "node2", "node3"])("renders the golden conflist of the seed's %s", (name) => {
    const node = plan(seed).nodes.find((candidate) => candidate.name === name)!;
    expect(conflistText(renderConflist(seed, node))).toBe(golden(`seed-${name}.conflist`));
  });

  it("chains exactly the plugins the node must have installed", () => {
    const conflist = renderConflist(seed, plan(seed).nodes[0]!);
    expect(
      conflist.plugins.flatMap((p) => [p.type, (p.ipam as { type?: string } | undefined)?.type]),
    ).toEqual(["ipvlan", "host-local", "portmap", undefined]);
    expect([...REQUIRED_PLUGINS]).toEqual(["ipvlan", "host-local", "portmap"]);
  });

  it("takes another IPAM data directory without changing anything else", () => {
    const node = plan(seed).nodes[0]!;
    const moved = renderConflist(seed, node, { ipamDataDir: "/run/testbed/node1/ipam" });
    const original = renderConflist(seed, node);
    expect((original.plugins[0]!.ipam as { dataDir: string }).dataDir).toBe(IPAM_DATA_DIR);
    expect((moved.plugins[0]!.ipam as { dataDir: string }).dataDir).toBe("/run/testbed/node1/ipam");
    (moved.plugins[0]!.ipam as { dataDir: string }).dataDir = IPAM_DATA_DIR;
    expect(moved).toEqual(original);
  });

  it("puts every block of a node into one range set, and the MTU and CNI version of the spec", () => {
    const spec = parseSpec(
      "nodeSubnet: 10.240.0.0/16\npodPool: [10.241.0.0/16]\nmtu: 1400\ncniVersion: 0.4.0\n",
    );
    const held = new Map([["a", ["10.241.0.16/28", "10.241.0.64/28"]]]);
    const node = plan(spec, { extraNodes: [{ name: "a", ip: "10.240.0.4" }], held }).nodes[0]!;
    const conflist = renderConflist(spec, node);
    expect(conflist.cniVersion).toBe("0.4.0");
    expect(conflist.plugins[0]).toMatchObject({
      mtu: 1400,
      ipam: {
        ranges: [
          [
            {
              subnet: "10.241.0.0/16",
              rangeStart: "10.241.0.16",
              rangeEnd: "10.241.0.31",
              gateway: "10.241.0.1",
            },
            {
              subnet: "10.241.0.0/16",
              rangeStart: "10.241.0.64",
              rangeEnd: "10.241.0.79",
              gateway: "10.241.0.1",
            },
          ],
        ],
      },
    });
  });
});
