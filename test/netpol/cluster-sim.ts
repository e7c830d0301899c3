// A cluster's policy datapath, simulated: every pod's network namespace holds the filter table its
// compiled payload leaves, every node holds the service rules (applied through planRules, as the agent
// applies node rules). A connection is judged the way ipvlan L3S carries it: the client's OUTPUT, then
// the server's INPUT; via a ClusterIP also the client node's OUTPUT after DNAT, and the same-node
// hairpin SNAT that makes the server see its node's IP.
import { compileNodeServiceRules, compilePodFirewalls } from "../../src/policy/compile.ts";
import { podKey, type PolicyPod, type PolicyWorld, type Protocol } from "../../src/policy/model.ts";
import { planRules } from "../../src/iptables/sync.ts";
import { parseSave } from "../../src/iptables/save.ts";
import { applyRestore, emptyTable, traverse, type SimPacket, type SimTable } from "./iptables-sim.ts";

export interface SimClusterOptions {
  nodeIPs: Record<string, string>;
  serviceCIDR: string;
  /** The ClusterIP a client dials for a service (any address inside serviceCIDR). */
  clusterIP: string;
}

export type Endpoint = { pod: PolicyPod } | { ip: string };

export class SimCluster {
  readonly podTables = new Map<string, SimTable>();
  readonly nodeTables = new Map<string, SimTable>();
  readonly options: SimClusterOptions;

  constructor(world: PolicyWorld, options: SimClusterOptions) {
    this.options = options;
    const firewalls = compilePodFirewalls(world, world.pods, {
      nodeIPOf: (pod) => this.nodeIP(pod),
      serviceCIDR: options.serviceCIDR,
    });
    for (const [key, firewall] of firewalls) {
      const table = emptyTable();
      applyRestore(table, firewall.restore);
      this.podTables.set(key, table);
    }
    for (const [node, nodeIP] of Object.entries(options.nodeIPs)) {
      const rules = compileNodeServiceRules(
        world,
        world.pods.filter((pod) => pod.node === node),
        { nodeIP },
      );
      const table = emptyTable();
      const payload = planRules(rules, parseSave("")).payload;
      if (payload) applyRestore(table, payload);
      this.nodeTables.set(node, table);
    }
  }

  nodeIP(pod: PolicyPod): string {
    const ip = this.options.nodeIPs[pod.node];
    if (!ip) throw new Error(`no IP for node ${pod.node}`);
    return ip;
  }

  private table(pod: PolicyPod): SimTable {
    return this.podTables.get(podKey(pod))!;
  }

  /** A new connection straight to the destination's address; replies are checked as well. */
  connect(from: Endpoint, to: Endpoint, port: number, protocol: Protocol): boolean {
    const source = "pod" in from ? from.pod.ip : from.ip;
    const destination = "pod" in to ? to.pod.ip : to.ip;
    const self = "pod" in from && "pod" in to && podKey(from.pod) === podKey(to.pod);
    const packet = (states: string[], extra: Partial<SimPacket> = {}): SimPacket => ({
      source,
      destination,
      protocol: protocol.toLowerCase() as SimPacket["protocol"],
      port,
      states,
      ...extra,
    });
    const iface = self ? "lo" : "eth0";
    const out =
      "pod" in from
        ? traverse(this.table(from.pod), "OUTPUT", packet(["NEW"], { outInterface: iface }))
        : undefined;
    if (out?.verdict === "DROP") return false;
    const into =
      "pod" in to
        ? traverse(this.table(to.pod), "INPUT", packet(["NEW"], { inInterface: iface }))
        : undefined;
    if (into?.verdict === "DROP") return false;
    this.assertRepliesPass(from, to, source, destination, port, protocol);
    return true;
  }

  /** A new connection to the server's Service: DNAT on the client's node, hairpin SNAT on one node. */
  connectViaService(from: PolicyPod, to: PolicyPod, port: number, protocol: Protocol): boolean {
    const proto = protocol.toLowerCase() as SimPacket["protocol"];
    const leaving = {
      source: from.ip,
      destination: this.options.clusterIP,
      protocol: proto,
      port,
      states: ["NEW"],
      outInterface: "eth0",
    };
    if (traverse(this.table(from), "OUTPUT", leaving).verdict === "DROP") return false;
    const nodeTable = this.nodeTables.get(from.node)!;
    const afterDnat = { source: from.ip, destination: to.ip, protocol: proto, port, states: ["NEW", "DNAT"] };
    if (traverse(nodeTable, "OUTPUT", afterDnat).verdict === "DROP") return false;
    const arriving = {
      source: from.node === to.node ? this.nodeIP(from) : from.ip,
      destination: to.ip,
      protocol: proto,
      port,
      states: ["NEW"],
      inInterface: "eth0",
    };
    return traverse(this.table(to), "INPUT", arriving).verdict === "ACCEPT";
  }

  private assertRepliesPass(
    from: Endpoint,
    to: Endpoint,
    source: string,
    destination: string,
    port: number,
    protocol: Protocol,
  ) {
    const reply: SimPacket = {
      source: destination,
      destination: source,
      protocol: protocol.toLowerCase() as SimPacket["protocol"],
      port,
      states: ["ESTABLISHED"],
    };
    if ("pod" in to && traverse(this.table(to.pod), "OUTPUT", reply).verdict === "DROP")
      throw new Error("reply dropped leaving the server");
    if ("pod" in from && traverse(this.table(from.pod), "INPUT", reply).verdict === "DROP")
      throw new Error("reply dropped entering the client");
  }
}
