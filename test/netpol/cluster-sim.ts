// A cluster's policy datapath, simulated: every pod's network namespace holds the filter table its
// compiled payload leaves, every node the node rules with their jumps inserted first. A connection is
// judged the way ipvlan L3S carries it (measured on the UML kernel): the client pod's OUTPUT always;
// then, from the same node, the server pod's INPUT, but from another node or outside, the server
// node's INPUT instead (the pod's INPUT never sees it). Via a ClusterIP: the client's OUTPUT sees the
// ClusterIP, the client node's OUTPUT the backend after DNAT, and a same-node backend the node's IP
// (hairpin SNAT).
import { compileNodeRules, compilePodFirewalls } from "../../src/policy/compile.ts";
import { podKey, type PolicyPod, type PolicyWorld, type Protocol } from "../../src/policy/model.ts";
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
      const rules = compileNodeRules(
        world,
        world.pods.filter((pod) => pod.node === node),
        { nodeIP },
      );
      const table = emptyTable();
      applyRestore(table, rules.chains);
      const jumps = rules.jumps.map((jump) => `-I ${jump.chain} 1 ${jump.spec.join(" ")}`);
      applyRestore(table, ["*filter", ...jumps, "COMMIT", ""].join("\n"));
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

  /** The chain a new packet to `server` from `source` enters: its namespace's INPUT from its own node. */
  private arrive(server: PolicyPod, packet: SimPacket, fromSameNode: boolean): boolean {
    const table = fromSameNode ? this.table(server) : this.nodeTables.get(server.node)!;
    return traverse(table, "INPUT", packet).verdict === "ACCEPT";
  }

  /** A new connection straight to the destination's address; replies are checked as well. */
  connect(from: Endpoint, to: Endpoint, port: number, protocol: Protocol): boolean {
    const source = "pod" in from ? from.pod.ip : from.ip;
    const destination = "pod" in to ? to.pod.ip : to.ip;
    const self = "pod" in from && "pod" in to && podKey(from.pod) === podKey(to.pod);
    const iface = self ? "lo" : "eth0";
    const packet: SimPacket = { source, destination, protocol: lower(protocol), port, states: ["NEW"] };
    if (
      "pod" in from &&
      traverse(this.table(from.pod), "OUTPUT", { ...packet, outInterface: iface }).verdict === "DROP"
    )
      return false;
    if ("pod" in to) {
      const sameNode = "pod" in from ? from.pod.node === to.pod.node : from.ip === this.nodeIP(to.pod);
      if (!this.arrive(to.pod, { ...packet, inInterface: iface }, sameNode)) return false;
    }
    this.assertRepliesPass(from, to, source, destination, port, protocol);
    return true;
  }

  /** A new connection to the server's Service: DNAT on the client's node, hairpin SNAT on one node. */
  connectViaService(from: PolicyPod, to: PolicyPod, port: number, protocol: Protocol): boolean {
    const packet: SimPacket = {
      source: from.ip,
      destination: this.options.clusterIP,
      protocol: lower(protocol),
      port,
      states: ["NEW"],
    };
    if (traverse(this.table(from), "OUTPUT", { ...packet, outInterface: "eth0" }).verdict === "DROP")
      return false;
    const afterDnat = { ...packet, destination: to.ip, states: ["NEW", "DNAT"] };
    if (traverse(this.nodeTables.get(from.node)!, "OUTPUT", afterDnat).verdict === "DROP") return false;
    const sameNode = from.node === to.node;
    const arriving = {
      ...packet,
      source: sameNode ? this.nodeIP(from) : from.ip,
      destination: to.ip,
      inInterface: "eth0",
    };
    return this.arrive(to, arriving, sameNode);
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
      protocol: lower(protocol),
      port,
      states: ["ESTABLISHED"],
    };
    if ("pod" in to && traverse(this.table(to.pod), "OUTPUT", reply).verdict === "DROP")
      throw new Error("reply dropped leaving the server");
    if ("pod" in from) {
      const sameNode = "pod" in to && to.pod.node === from.pod.node;
      if (!this.arrive(from.pod, reply, sameNode)) throw new Error("reply dropped entering the client");
    }
  }
}

function lower(protocol: Protocol): SimPacket["protocol"] {
  return protocol.toLowerCase() as SimPacket["protocol"];
}
