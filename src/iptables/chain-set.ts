// What the generic iptables layer applies: chains we own, replaced as a whole by one
// `iptables-restore --noflush`, and the jump rules that lead into them from the built-in chains.
// The layer knows nothing of what the rules do; src/noderules renders the node's rules in this shape.

export interface JumpRule {
  table: "nat" | "filter" | "mangle";
  chain: "POSTROUTING" | "OUTPUT" | "INPUT" | "FORWARD";
  /** The rule after `-A CHAIN`, as iptables-save prints it. */
  spec: string[];
  /** Security rules go first in their chain; NAT rules append. */
  position: "first" | "last";
}

export interface ChainSet {
  /** Input for `iptables-restore --noflush`: declares (and so flushes) only our chains. */
  chains: string;
  jumps: JumpRule[];
  /** Every chain we own, per table: the cleanup deletes exactly these. */
  owned: { nat: string[]; filter: string[]; mangle?: string[] };
}
