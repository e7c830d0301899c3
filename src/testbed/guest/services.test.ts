import { describe, expect, it } from "vitest";
import { CLUSTER_DNS_IP, ServiceRegistry } from "./services.ts";

const request = (name: string) => ({
  name,
  protocol: "TCP" as const,
  port: 80,
  endpoint: { ip: "10.224.0.17", port: 80 },
});

describe("ServiceRegistry", () => {
  it("hands out ClusterIPs and node ports in order, and a fixed ClusterIP when asked", () => {
    const registry = new ServiceRegistry();
    expect(
      registry.add(request("kube-dns"), { nodePort: false, clusterIP: CLUSTER_DNS_IP }),
    ).not.toHaveProperty("nodePort");
    expect(registry.add(request("a"), { nodePort: true })).toMatchObject({
      clusterIP: "10.0.0.100",
      nodePort: 30000,
    });
    expect(registry.add(request("b"), { nodePort: true })).toMatchObject({
      clusterIP: "10.0.0.101",
      nodePort: 30001,
    });
    expect(() => registry.add(request("a"), { nodePort: false })).toThrow(/exists/);
  });

  it("remembers removed services until the next sync", () => {
    const registry = new ServiceRegistry();
    registry.add(request("a"), { nodePort: false });
    registry.remove("a");
    registry.remove("never-added");
    expect(registry.list()).toEqual([]);
    expect(registry.retired()).toEqual(["a"]);
    registry.synced();
    expect(registry.retired()).toEqual([]);
  });
});
