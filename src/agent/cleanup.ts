// `agent --cleanup`: removes what the agent created on this node (conflist, our chains and the jumps
// into them, the host device with its routes) and nothing else. Address reservations stay: pods that
// still run keep their addresses, and a later install must not hand those addresses out again
// (the data dir is on tmpfs, so a reboot clears it). Sysctls stay: kube-proxy needs ip_forward too.
import type { Runner } from "../sys/exec.ts";
import type { ClusterSpec } from "../spec/schema.ts";
import { renderNodeRules } from "../noderules/rules.ts";
import { HOST_DEVICE } from "../hostpath/desired.ts";
import { cleanupHostPath } from "../hostpath/apply.ts";
import { backend, type BackendName } from "../iptables/backend.ts";
import { cleanupRules } from "../iptables/apply.ts";
import { conflistPath, removeConflist } from "./cni-files.ts";
import { emptyNode } from "./node.ts";

export async function cleanup(
  spec: ClusterSpec,
  nodeName: string,
  confDir: string,
  runner: Runner,
): Promise<string[]> {
  const removed: string[] = [];
  if (await removeConflist(confDir)) removed.push(conflistPath(confDir));
  const owned = renderNodeRules(spec, emptyNode(nodeName)).owned;
  // Both backends: rules written while the node used the other one are ours too.
  for (const name of ["legacy", "nft"] as BackendName[]) {
    if (await cleanupRules(runner, backend(name), owned))
      removed.push(`iptables (${name}): our chains and jumps`);
  }
  if (await cleanupHostPath(runner, HOST_DEVICE)) removed.push(`link ${HOST_DEVICE} and its routes`);
  return removed;
}
