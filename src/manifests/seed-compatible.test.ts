import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Pod } from "kubernetes-models/v1";
import { parseSpec } from "../spec/load.ts";
import { plan } from "../ipam/planner.ts";
import { lintCniConfig } from "../cni/lint.ts";
import { renderNodeRules } from "../noderules/rules.ts";
import { SEED_CONFIG_FILE, SEED_MASQUERADE_FILE, renderSeedCompatible } from "./seed-compatible.ts";

const seed = parseSpec(readFileSync(new URL("../../examples/seed.yaml", import.meta.url), "utf8"));
const seedPlan = plan(seed);
const files = renderSeedCompatible(seed, seedPlan.nodes);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const objects = (file: string): any[] => parseAllDocuments(files[file]!).map((document) => document.toJS());

describe("renderSeedCompatible", () => {
  it("renders the seed's two files, each with a ConfigMap and a pod per node, valid for Kubernetes", () => {
    expect(Object.keys(files)).toEqual([SEED_CONFIG_FILE, SEED_MASQUERADE_FILE]);
    for (const file of Object.keys(files)) {
      const all = objects(file);
      expect(all.map((o) => o.kind)).toEqual(["ConfigMap", "Pod", "ConfigMap", "Pod", "ConfigMap", "Pod"]);
      for (const object of all) {
        const Model = object.kind === "Pod" ? Pod : ConfigMap;
        expect(() => new Model(object).validate()).not.toThrow();
      }
    }
  });

  it("names the masquerade pods as the seed does and pins each pod to its node on the host network", () => {
    const pods = objects(SEED_MASQUERADE_FILE).filter((o) => o.kind === "Pod");
    expect(
      pods.map((pod) => [
        pod.metadata.name,
        pod.metadata.labels.app,
        pod.spec.nodeName,
        pod.spec.hostNetwork,
      ]),
    ).toEqual([
      ["ipv4-masq-node1", "ipv4-masq", "node1", true],
      ["ipv4-masq-node2", "ipv4-masq", "node2", true],
      ["ipv4-masq-node3", "ipv4-masq", "node3", true],
    ]);
  });

  it("writes each node's own conflist, which the linter accepts against the plan", () => {
    const configMaps = objects(SEED_CONFIG_FILE).filter((o) => o.kind === "ConfigMap");
    configMaps.forEach((configMap, index) => {
      const text = configMap.data["10-aks-ipvlan.conflist"];
      expect(JSON.parse(text).plugins[0].ipam.ranges[0][0].rangeStart).toBe(
        seedPlan.nodes[index]!.blocks[0]!.firstPod,
      );
      expect(lintCniConfig(text, "10-aks-ipvlan.conflist", seedPlan)).toEqual([]);
    });
    const script = objects(SEED_CONFIG_FILE)[1].spec.containers[0].command[2];
    expect(script).toMatch(
      /cp \/config\/10-aks-ipvlan.conflist \/etc\/cni\/net.d\/.10-aks-ipvlan.conflist.tmp\nmv /,
    );
  });

  it("sets ip_forward, the host device, the rules and check-then-add jumps on each node", () => {
    const [configMap, pod] = objects(SEED_MASQUERADE_FILE);
    expect(configMap.data["rules.iptables"]).toBe(renderNodeRules(seed, seedPlan.nodes[0]!).chains);
    const script: string = pod.spec.containers[0].command[2];
    expect(script.split("\n")).toEqual([
      "set -eu",
      "sysctl -w net.ipv4.ip_forward=1",
      "ip link show ipvl-host >/dev/null 2>&1 || ip link add ipvl-host link eth0 type ipvlan mode l3s",
      "ip link set ipvl-host up",
      "ip route replace 10.224.0.16/28 dev ipvl-host src 10.224.0.4",
      "iptables-restore --noflush < /config/rules.iptables",
      // The guard's jump before the masquerade's (the order of iptables/sync.ts).
      'iptables -t filter -C OUTPUT -m comment --comment "aks-ipvlan: pod metadata protection" -j AKS-IPVLAN-OUTPUT 2>/dev/null || iptables -t filter -I OUTPUT 1 -m comment --comment "aks-ipvlan: pod metadata protection" -j AKS-IPVLAN-OUTPUT',
      'iptables -t nat -C POSTROUTING -m comment --comment "aks-ipvlan: pod masquerade and hairpin" -j AKS-IPVLAN-POSTROUTING 2>/dev/null || iptables -t nat -A POSTROUTING -m comment --comment "aks-ipvlan: pod masquerade and hairpin" -j AKS-IPVLAN-POSTROUTING',
      "exec sleep 2147483647",
    ]);
  });

  it("renders only the nodes it is given", () => {
    const one = renderSeedCompatible(seed, [seedPlan.nodes[1]!]);
    expect(one[SEED_MASQUERADE_FILE]).toContain("ipv4-masq-node2");
    expect(one[SEED_MASQUERADE_FILE]).not.toContain("ipv4-masq-node1");
  });
});
