import { describe, expect, it } from "vitest";
import { parseSpec } from "../spec/load.ts";
import { plan } from "../ipam/planner.ts";
import { HOST_DEVICE, desiredHostPath } from "./desired.ts";

describe("desiredHostPath", () => {
  it("routes each of the node's blocks through the host device with the node IP as source", () => {
    const spec = parseSpec(
      "nodeSubnet: 10.224.0.0/16\nmasterInterface: eth1\nnodes: [{name: node1, ip: 10.224.0.4}]\n",
    );
    expect(desiredHostPath(spec, plan(spec).nodes[0]!)).toEqual({
      device: HOST_DEVICE,
      master: "eth1",
      routes: [{ dst: "10.224.0.16/28", dev: HOST_DEVICE, src: "10.224.0.4" }],
      sysctls: { "net.ipv4.ip_forward": "1" },
    });
  });
});
