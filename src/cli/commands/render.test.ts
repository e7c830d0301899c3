import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { tempDirSync } from "../../../test/fakes/temp-dir.ts";
import { renderFiles } from "./render.ts";

const scratch = tempDirSync("aks-ipvlan-render-");
const NODES =
  "nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nmaxPodsPerNode: 16\nnodes:\n- {name: node1, ip: 10.224.0.4}\n- {name: node2, ip: 10.224.0.5}\n- {name: node3, ip: 10.224.0.6}\n";

function specFile(text: string): string {
  const file = join(scratch, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe("render's routing files", () => {
  it("vnet: routing.yaml holds the mode and the route table's entries, and no node gets overlay entries", async () => {
    const files = await renderFiles({ config: specFile(NODES) });
    const routing = parse(files["routing.yaml"]!);
    expect(routing.mode).toBe("vnet");
    expect(routing.podMtu).toBeUndefined();
    expect(routing.routes.map((route: { addressPrefix: string }) => route.addressPrefix)).toEqual([
      "10.241.0.16/28",
      "10.241.0.32/28",
      "10.241.0.48/28",
    ]);
    expect(Object.keys(files).filter((path) => path.endsWith("overlay.yaml"))).toEqual([]);
  });

  it("vxlan: routing.yaml holds the mode, the pod MTU and every node's entries; each node the other nodes'", async () => {
    const config = specFile(`${NODES}routing: {mode: vxlan}\n`);
    const files = await renderFiles({ config });
    const routing = parse(files["routing.yaml"]!);
    expect(routing).toEqual({
      mode: "vxlan",
      podMtu: 1450,
      overlay: [
        { name: "node1", ip: "10.224.0.4", blocks: ["10.241.0.16/28"] },
        { name: "node2", ip: "10.224.0.5", blocks: ["10.241.0.32/28"] },
        { name: "node3", ip: "10.224.0.6", blocks: ["10.241.0.48/28"] },
      ],
    });
    expect(parse(files["nodes/node2/overlay.yaml"]!).peers).toEqual([routing.overlay[0], routing.overlay[2]]);
    const one = await renderFiles({ config, node: "node3" });
    expect(Object.keys(one).sort()).toEqual([
      "nodes/node3/10-aks-ipvlan.conflist",
      "nodes/node3/overlay.yaml",
      "nodes/node3/rules.iptables",
    ]);
    expect(JSON.parse(one["nodes/node3/10-aks-ipvlan.conflist"]!).plugins[0].mtu).toBe(1450);
  });
});
