// A cluster's policy datapath, simulated: every pod's network namespace holds the filter table its
// compiled payload leaves, every node the node rules with their jumps inserted first. A connection is
// judged the way ipvlan L3S carries it (measured on the UML kernel): the client pod's OUTPUT always,
// then its node's OUTPUT when the server is on another node; from the same node, the server pod's
// INPUT, but from another node or outside, the server node's INPUT instead (the pod's INPUT never sees
// it). In vxlan mode what comes from another node (its pods, its IP) arrives through the tunnel and is
// forwarded to the host device: the server node's FORWARD, then the server pod's INPUT, whose conntrack
// then sees the request too. Via a ClusterIP: the client's OUTPUT sees the ClusterIP, the client
// node's OUTPUT the backend after DNAT, and a same-node backend the node's IP (hairpin SNAT). Replies
// take the mirror path, and each namespace's conntrack knows only what crossed it: a reply is
// ESTABLISHED in a namespace only if the request went through it; otherwise it is NEW there (a TCP
// SYN-ACK is INVALID).
import { compileNodeRules } from "../../src/policy/node-rules.ts";
import { compilePodFirewalls } from "../../src/policy/pod-firewall.ts";
import { podKey, type PolicyPod, type PolicyWorld, type Protocol } from "../../src/policy/model.ts";
import { HOST_DEVICE } from "../../src/hostpath/desired.ts";
import { OVERLAY_DEVICE as TUNNEL_DEVICE } from "../../src/overlay/desired.ts";
import { applyRestore, emptyTable, traverse, type SimPacket, type SimTable } from "./iptables-sim.ts";

export interface SimClusterOptions {
  nodeIPs: Record<string, string>;
  /** Each node's pod blocks. */
  podCIDRs: Record<string, string[]>;
  serviceCIDR: string;
  /** The ClusterIP a client dials for a service (any address inside serviceCIDR). */
  clusterIP: string;
  /** routing.mode (default vnet): how traffic from other nodes reaches a pod. */
  mode?: "vnet" | "vxlan";
  /** false: every pod's namespace lost its rules (drift), only the nodes' rules judge. */
  podRules?: boolean;
}

export type Endpoint = { pod: PolicyPod } | { ip: string };

export class SimCluster {
  readonly podTables = new Map<string, SimTable>();
  readonly nodeTables = new Map<string, SimTable>();
  readonly options: SimClusterOptions;
  readonly #podIPs: Set<string>;

  constructor(world: PolicyWorld, options: SimClusterOptions) {
    this.options = options;
    this.#podIPs = new Set(world.pods.map((pod) => pod.ip));
    const firewalls = compilePodFirewalls(world, world.pods, {
      nodeIPOf: (pod) => this.nodeIP(pod),
      podCIDRsOf: (pod) => options.podCIDRs[pod.node] ?? [],
      serviceCIDR: options.serviceCIDR,
    });
    for (const [key, firewall] of firewalls) {
      const table = emptyTable();
      if (options.podRules !== false) applyRestore(table, firewall.restore);
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

  /**
   * Where a new packet to `server` is judged: from its own node, its namespace's INPUT; from elsewhere,
   * its node's INPUT (vnet), or through the tunnel its node's FORWARD and then its namespace's INPUT.
   */
  private arrive(server: PolicyPod, packet: SimPacket, fromSameNode: boolean): boolean {
    if (fromSameNode) return traverse(this.table(server), "INPUT", packet).verdict === "ACCEPT";
    const node = this.nodeTables.get(server.node)!;
    if (!this.tunnelled(packet.source)) return traverse(node, "INPUT", packet).verdict === "ACCEPT";
    const forwarded = { ...packet, inInterface: TUNNEL_DEVICE, outInterface: HOST_DEVICE };
    if (traverse(node, "FORWARD", forwarded).verdict === "DROP") return false;
    return traverse(this.table(server), "INPUT", packet).verdict === "ACCEPT";
  }

  /** vxlan mode: a packet from a pod of another node, or another node itself, comes through the tunnel. */
  private tunnelled(source: string): boolean {
    if (this.options.mode !== "vxlan") return false;
    const nodeIPs = Object.values(this.options.nodeIPs);
    return nodeIPs.includes(source) || this.#podIPs.has(source);
  }

  /** The node a pod's packet to `ip` leaves through: its own, unless `ip` is a pod of the same node. */
  private crossesNode(from: PolicyPod, to: Endpoint): boolean {
    if (!("pod" in to)) return to.ip !== this.nodeIP(from);
    return to.pod.node !== from.node;
  }

  /** A new connection straight to the destination's address; replies are checked as well. */
  connect(from: Endpoint, to: Endpoint, port: number, protocol: Protocol): boolean {
    const source = "pod" in from ? from.pod.ip : from.ip;
    const destination = "pod" in to ? to.pod.ip : to.ip;
    const self = "pod" in from && "pod" in to && podKey(from.pod) === podKey(to.pod);
    const iface = self ? "lo" : "eth0";
    const packet: SimPacket = { source, destination, protocol: lower(protocol), port, states: ["NEW"] };
    if ("pod" in from) {
      if (traverse(this.table(from.pod), "OUTPUT", { ...packet, outInterface: iface }).verdict === "DROP")
        return false;
      if (
        !self &&
        this.crossesNode(from.pod, to) &&
        traverse(this.nodeTables.get(from.pod.node)!, "OUTPUT", packet).verdict === "DROP"
      )
        return false;
    }
    if ("pod" in to) {
      const sameNode = "pod" in from ? from.pod.node === to.pod.node : from.ip === this.nodeIP(to.pod);
      if (!this.arrive(to.pod, { ...packet, inInterface: iface }, sameNode)) return false;
    }
    return this.repliesPass(from, to, source, destination, protocol);
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

  /**
   * The reply's way back, each namespace judging it by what its own conntrack saw of the request: the
   * server pod's namespace saw it only from its own node; the server's node saw it (INPUT) only from
   * elsewhere, and the reply leaves through it then; the client's node saw it leave (OUTPUT).
   */
  private repliesPass(
    from: Endpoint,
    to: Endpoint,
    source: string,
    destination: string,
    protocol: Protocol,
  ): boolean {
    const reply = (seen: boolean): SimPacket => ({
      source: destination,
      destination: source,
      protocol: lower(protocol),
      // A reply goes to the client's ephemeral port, which no rule names.
      port: 51234,
      states: seen ? ["ESTABLISHED"] : protocol === "TCP" ? ["INVALID"] : ["NEW"],
    });
    if ("pod" in to) {
      const fromSameNode = "pod" in from ? from.pod.node === to.pod.node : from.ip === this.nodeIP(to.pod);
      const seen = fromSameNode || this.tunnelled(source);
      if (traverse(this.table(to.pod), "OUTPUT", reply(seen)).verdict === "DROP") return false;
      if (
        !fromSameNode &&
        traverse(this.nodeTables.get(to.pod.node)!, "OUTPUT", reply(true)).verdict === "DROP"
      )
        return false;
    }
    if ("pod" in from) {
      const sameNode = "pod" in to && to.pod.node === from.pod.node;
      if (!this.arrive(from.pod, reply(true), sameNode)) return false;
    }
    return true;
  }
}

function lower(protocol: Protocol): SimPacket["protocol"] {
  return protocol.toLowerCase() as SimPacket["protocol"];
}
