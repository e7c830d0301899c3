import { describe, expect, it } from "vitest";
import {
  NODE_EGRESS_CHAIN,
  NODE_INGRESS_CHAIN,
  SERVICE_INGRESS_CHAIN,
  compileNodeRules,
} from "./node-rules.ts";
import { chainLines, client, server, world } from "../../test/netpol/compile-fixtures.ts";

describe("compileNodeRules", () => {
  it("checks local pods' ingress from other nodes in INPUT and FORWARD, their egress beyond the node in OUTPUT", () => {
    const w = world({
      podSelector: { matchLabels: { app: "server" } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ ipBlock: { cidr: "10.244.0.0/24" } }] }],
      egress: [],
    });
    const rules = compileNodeRules(w, [server, client], { nodeIP: "10.224.0.4" });
    expect(chainLines(rules.chains, NODE_INGRESS_CHAIN)).toEqual([
      `-A ${NODE_INGRESS_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
      `-A ${NODE_INGRESS_CHAIN} -s 10.224.0.4/32 -d 10.244.0.2/32 -m comment --comment "aks-ipvlan: own node" -j RETURN`,
      `-A ${NODE_INGRESS_CHAIN} -s 10.244.0.0/24 -d 10.244.0.2/32 -m comment --comment "aks-ipvlan: policy prod/web" -j RETURN`,
      `-A ${NODE_INGRESS_CHAIN} -d 10.244.0.2/32 -p tcp -m comment --comment "aks-ipvlan: ingress of prod/server not allowed by policy" -j REJECT --reject-with tcp-reset`,
      `-A ${NODE_INGRESS_CHAIN} -d 10.244.0.2/32 -m comment --comment "aks-ipvlan: ingress of prod/server not allowed by policy" -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    // Every packet a pod sends beyond the node crosses OUTPUT: replies pass as ESTABLISHED.
    expect(chainLines(rules.chains, NODE_EGRESS_CHAIN)).toEqual([
      `-A ${NODE_EGRESS_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
      `-A ${NODE_EGRESS_CHAIN} -s 10.244.0.2/32 -d 10.224.0.4/32 -m comment --comment "aks-ipvlan: own node" -j RETURN`,
      `-A ${NODE_EGRESS_CHAIN} -s 10.244.0.2/32 -p tcp -m comment --comment "aks-ipvlan: egress of prod/server not allowed by policy" -j REJECT --reject-with tcp-reset`,
      `-A ${NODE_EGRESS_CHAIN} -s 10.244.0.2/32 -m comment --comment "aks-ipvlan: egress of prod/server not allowed by policy" -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    // In OUTPUT only local pods originate packets: the /24 narrows to the two local pods.
    expect(chainLines(rules.chains, SERVICE_INGRESS_CHAIN)).toEqual([
      `-A ${SERVICE_INGRESS_CHAIN} -s 10.224.0.4/32 -d 10.244.0.2/32 -m comment --comment "aks-ipvlan: own node" -j RETURN`,
      `-A ${SERVICE_INGRESS_CHAIN} -s 10.244.0.2/31 -d 10.244.0.2/32 -m comment --comment "aks-ipvlan: policy prod/web" -j RETURN`,
      `-A ${SERVICE_INGRESS_CHAIN} -d 10.244.0.2/32 -p tcp -m comment --comment "aks-ipvlan: ingress of prod/server not allowed by policy" -j REJECT --reject-with tcp-reset`,
      `-A ${SERVICE_INGRESS_CHAIN} -d 10.244.0.2/32 -m comment --comment "aks-ipvlan: ingress of prod/server not allowed by policy" -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    expect(rules.jumps.map((jump) => `${jump.chain} ${jump.spec.join(" ")}`)).toEqual([
      `INPUT -m comment --comment "aks-ipvlan: pod ingress from other nodes" -j ${NODE_INGRESS_CHAIN}`,
      // vxlan mode: from other nodes through the tunnel, forwarded to the host device, not INPUT.
      `FORWARD -o ipvl-host -m comment --comment "aks-ipvlan: pod ingress forwarded to the host device" -j ${NODE_INGRESS_CHAIN}`,
      `OUTPUT -m comment --comment "aks-ipvlan: pod egress beyond the pods of the node" -j ${NODE_EGRESS_CHAIN}`,
      `OUTPUT -m conntrack --ctstate NEW -m conntrack --ctstate DNAT -m comment --comment "aks-ipvlan: service policy after DNAT" -j ${SERVICE_INGRESS_CHAIN}`,
    ]);
    expect(rules.owned).toEqual({
      nat: [],
      filter: [NODE_INGRESS_CHAIN, NODE_EGRESS_CHAIN, SERVICE_INGRESS_CHAIN],
    });
    expect(rules.ruleCount).toBe(13);
  });
});
