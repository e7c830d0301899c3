import { describe, expect, it } from "vitest";
import { renderServiceRules, type Service } from "./kube-proxy.ts";

const web: Service = {
  name: "web",
  clusterIP: "10.0.0.100",
  protocol: "TCP",
  port: 80,
  nodePort: 30000,
  endpoint: { ip: "10.224.0.17", port: 8080 },
};

function rules(payload: string): string[] {
  return payload.split("\n").filter((line) => line.startsWith("-A") || line.startsWith("-X"));
}

describe("renderServiceRules", () => {
  it("lays a NodePort service out like kube-proxy: DNAT, hairpin mark, external traffic marked", () => {
    const payload = renderServiceRules([web], { podCidr: "10.224.0.0/16" });
    const lines = rules(payload);
    const svc = lines.find((line) => line.startsWith("-A KUBE-SERVICES -d 10.0.0.100/32"))!.split(" -j ")[1]!;
    expect(svc).toMatch(/^KUBE-SVC-[0-9A-F]{16}$/);
    expect(lines).toContain(
      `-A ${svc} ! -s 10.224.0.0/16 -d 10.0.0.100/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ`,
    );
    const sep = svc.replace("SVC", "SEP");
    expect(lines).toContain(`-A ${sep} -s 10.224.0.17/32 -j KUBE-MARK-MASQ`);
    expect(lines).toContain(`-A ${sep} -p tcp -m tcp -j DNAT --to-destination 10.224.0.17:8080`);
    const ext = svc.replace("SVC", "EXT");
    expect(lines).toContain(`-A ${ext} -j KUBE-MARK-MASQ`);
    expect(lines.at(-1)).toMatch(/-A KUBE-SERVICES .* -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS/);
    expect(payload.startsWith("*nat\n")).toBe(true);
    expect(payload.endsWith("COMMIT\n")).toBe(true);
  });

  it("leaves out the off-cluster mark without a pod CIDR, and the NodePort chain for a ClusterIP", () => {
    const lines = rules(renderServiceRules([{ ...web, nodePort: undefined }], {}));
    expect(lines.some((line) => line.includes("! -s"))).toBe(false);
    expect(lines.some((line) => line.startsWith("-A KUBE-NODEPORTS"))).toBe(false);
  });

  it("flushes and deletes the chains of retired services", () => {
    const payload = renderServiceRules([], { retired: ["web"] });
    const deleted = rules(payload).filter((line) => line.startsWith("-X"));
    expect(deleted).toHaveLength(3);
    for (const line of deleted) expect(payload).toContain(`:${line.slice(3)} - [0:0]`);
  });
});
