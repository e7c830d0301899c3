// `agent --cleanup`: removes what any version of the agent created on this node (conflist, our chains
// and the jumps into them: the node's rules, vxlan mode's tunnel mark, NetworkPolicy's node chains
// with fail-closed's REJECTs, the retired SVC-EGRESS; the host device with its routes; the VXLAN
// device with its routes, neighbour and forwarding entries) and nothing else. Address reservations stay: pods that
// still run keep their addresses, and a later install must not hand those addresses out again
// (the data dir is on tmpfs, so a reboot clears it). Sysctls stay: kube-proxy needs ip_forward too.
// Needs no spec: every name it removes is a constant, so uninstall works even with a broken ConfigMap.
import type { Runner } from "../sys/exec.ts";
import { OVERLAY_CHAINS, OWNED_CHAINS } from "../noderules/rules.ts";
import { OVERLAY_DEVICE } from "../overlay/desired.ts";
import { cleanupOverlay } from "../overlay/apply.ts";
import { NODE_POLICY_CHAINS } from "../policy/node-rules.ts";
import { HOST_DEVICE } from "../hostpath/desired.ts";
import { cleanupHostPath } from "../hostpath/apply.ts";
import { backend, type BackendName } from "../iptables/backend.ts";
import { cleanupRules } from "../iptables/apply.ts";
import { conflistPath, removeConflist } from "./cni-files.ts";

/** A node chain of NetworkPolicy that earlier versions created (Service egress, before issue 12's fix). */
const RETIRED_FILTER_CHAINS = ["AKS-IPVLAN-SVC-EGRESS"];

/** Every chain of ours, per table, of this version and earlier ones. */
const EVERY_CHAIN = {
  nat: OWNED_CHAINS.nat,
  filter: [...OWNED_CHAINS.filter, ...NODE_POLICY_CHAINS, ...RETIRED_FILTER_CHAINS],
  ...OVERLAY_CHAINS,
};

export async function cleanup(confDir: string, runner: Runner): Promise<string[]> {
  const removed: string[] = [];
  if (await removeConflist(confDir)) removed.push(conflistPath(confDir));
  // Both backends: rules written while the node used the other one are ours too.
  for (const name of ["legacy", "nft"] as BackendName[]) {
    if (await cleanupRules(runner, backend(name), EVERY_CHAIN))
      removed.push(`iptables (${name}): our chains and jumps`);
  }
  if (await cleanupHostPath(runner, HOST_DEVICE)) removed.push(`link ${HOST_DEVICE} and its routes`);
  if (await cleanupOverlay(runner, OVERLAY_DEVICE))
    removed.push(`link ${OVERLAY_DEVICE} and its routes, neighbour and forwarding entries, and its rules`);
  return removed;
}
