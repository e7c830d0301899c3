import { describe, expect, it } from "vitest";
import { fakeRunner } from "../../test/fakes/runner.ts";
import { tempDir } from "../../test/fakes/temp-dir.ts";
import { cleanup } from "./cleanup.ts";

/** A node after a policy-enabled agent with fail-closed ran, an older agent left SVC-EGRESS, beside kube-proxy. */
const SAVED = [
  "*nat",
  ":POSTROUTING ACCEPT [0:0]",
  ":AKS-IPVLAN-POSTROUTING - [0:0]",
  ":AKS-IPVLAN-MASQ - [0:0]",
  ":KUBE-POSTROUTING - [0:0]",
  '-A POSTROUTING -m comment --comment "aks-ipvlan: pod masquerade and hairpin" -j AKS-IPVLAN-POSTROUTING',
  "-A POSTROUTING -j KUBE-POSTROUTING",
  "-A AKS-IPVLAN-POSTROUTING -j AKS-IPVLAN-MASQ",
  "-A KUBE-POSTROUTING -j MASQUERADE",
  "COMMIT",
  "*mangle",
  ":OUTPUT ACCEPT [0:0]",
  ":AKS-IPVLAN-TUNNEL - [0:0]",
  '-A OUTPUT -m comment --comment "aks-ipvlan: pod traffic to other nodes takes the overlay" -j AKS-IPVLAN-TUNNEL',
  "-A AKS-IPVLAN-TUNNEL -s 10.241.0.0/28 -d 10.241.0.0/16 -j MARK --set-xmark 0x1000000/0x1000000",
  "COMMIT",
  "*filter",
  ":INPUT ACCEPT [0:0]",
  ":FORWARD ACCEPT [0:0]",
  ":OUTPUT ACCEPT [0:0]",
  ":AKS-IPVLAN-OUTPUT - [0:0]",
  ":AKS-IPVLAN-POD-INGRESS - [0:0]",
  ":AKS-IPVLAN-POD-EGRESS - [0:0]",
  ":AKS-IPVLAN-SVC-INGRESS - [0:0]",
  ":AKS-IPVLAN-SVC-EGRESS - [0:0]",
  ":KUBE-FIREWALL - [0:0]",
  ":KUBE-FORWARD - [0:0]",
  ":AKS-IPVLAN-SOMEONE-ELSES - [0:0]",
  '-A INPUT -m comment --comment "aks-ipvlan: pod ingress from other nodes" -j AKS-IPVLAN-POD-INGRESS',
  "-A INPUT -j KUBE-FIREWALL",
  '-A FORWARD -o ipvl-host -m comment --comment "aks-ipvlan: pod ingress forwarded to the host device" -j AKS-IPVLAN-POD-INGRESS',
  "-A FORWARD -j KUBE-FORWARD",
  '-A OUTPUT -m comment --comment "aks-ipvlan: pod metadata protection" -j AKS-IPVLAN-OUTPUT',
  '-A OUTPUT -m comment --comment "aks-ipvlan: pod egress beyond the node\'s pods" -j AKS-IPVLAN-POD-EGRESS',
  '-A OUTPUT -m conntrack --ctstate NEW -m conntrack --ctstate DNAT -m comment --comment "aks-ipvlan: service policy after DNAT" -j AKS-IPVLAN-SVC-INGRESS',
  "-A OUTPUT -m conntrack --ctstate NEW -m conntrack --ctstate DNAT -j AKS-IPVLAN-SVC-EGRESS",
  "-A OUTPUT -j AKS-IPVLAN-SOMEONE-ELSES",
  '-A AKS-IPVLAN-POD-INGRESS -d 10.224.0.16/28 -m comment --comment "aks-ipvlan: isolated until policy is computed" -j REJECT --reject-with icmp-port-unreachable',
  '-A AKS-IPVLAN-POD-EGRESS -s 10.224.0.16/28 -m comment --comment "aks-ipvlan: isolated until policy is computed" -j REJECT --reject-with icmp-port-unreachable',
  "-A AKS-IPVLAN-SVC-EGRESS -j RETURN",
  "-A KUBE-FIREWALL -j DROP",
  "COMMIT",
  "",
].join("\n");

describe("agent --cleanup", () => {
  it("removes every chain any version of the agent created, with its jumps, and nothing else", async () => {
    const runner = fakeRunner()
      .on("iptables-legacy-save", { stdout: SAVED })
      .on("iptables-legacy-restore", {})
      .on("iptables-nft-save", { code: 1, stderr: "no nft here" })
      .on("ip -json -details link show", {
        stdout: JSON.stringify([
          { ifname: "eth0" },
          { ifname: "vxlan-aks", linkinfo: { info_kind: "vxlan" } },
        ]),
      })
      .on("ip -json -4 rule show", {
        stdout: JSON.stringify([
          { priority: 0, src: "all", table: "local" },
          { priority: 4789, src: "10.241.0.0", srclen: 16, table: "4789" },
        ]),
      })
      .on("ip -batch -", {})
      .on("ip -json -4 route show", { stdout: "[]" });
    const removed = await cleanup(await tempDir("cleanup-"), runner.run);
    expect(removed).toContain(
      "link vxlan-aks and its routes, neighbour and forwarding entries, and its rules",
    );
    const batch = runner.calls.find((call) => call.file === "ip" && call.args[0] === "-batch")!.input;
    expect(batch).toBe("link del vxlan-aks\nrule del pref 4789\n");
    const payload = runner.calls.find((call) => call.file === "iptables-legacy-restore")!.input!;
    const lines = payload.trim().split("\n");
    for (const chain of [
      "AKS-IPVLAN-OUTPUT",
      "AKS-IPVLAN-POD-INGRESS",
      "AKS-IPVLAN-POD-EGRESS",
      "AKS-IPVLAN-SVC-INGRESS",
      "AKS-IPVLAN-SVC-EGRESS",
      "AKS-IPVLAN-POSTROUTING",
      "AKS-IPVLAN-MASQ",
      "AKS-IPVLAN-TUNNEL",
    ]) {
      expect(lines).toContain(`-X ${chain}`);
    }
    // Every jump into one of them goes (the fail-closed REJECTs go with their chains).
    const deleted = lines.filter((line) => line.startsWith("-D "));
    expect(deleted).toHaveLength(8);
    expect(deleted).toContain(
      '-D FORWARD -o ipvl-host -m comment --comment "aks-ipvlan: pod ingress forwarded to the host device" -j AKS-IPVLAN-POD-INGRESS',
    );
    expect(deleted.every((line) => / -j AKS-IPVLAN-(POD|SVC|OUTPUT|POSTROUTING|TUNNEL)/.test(line))).toBe(
      true,
    );
    // Negative control: kube-proxy's chains and a chain that only shares our prefix stay.
    expect(payload).not.toMatch(/KUBE-|SOMEONE-ELSES/);
  });
});
