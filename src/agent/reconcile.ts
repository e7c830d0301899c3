// One full reconcile of a node: compute everything, then apply each part once, in the order that keeps
// pods working: host path and kernel settings first, rules next, and the conflist (which tells the
// kubelet the network is ready) last. Leak collection runs after, and never blocks the rest.
import type { Runner } from "../sys/exec.ts";
import type { Backend } from "../iptables/backend.ts";
import { syncRules } from "../iptables/apply.ts";
import { applyHostPath } from "../hostpath/apply.ts";
import { applySysctls } from "../hostpath/apply-sysctls.ts";
import { applyOverlay, applyPeerChanges } from "../overlay/apply.ts";
import { desiredOverlay, type Overlay } from "../overlay/desired.ts";
import type { OverlayPeer } from "../ipam/overlay-peers.ts";
import type { ClusterSpec } from "../spec/schema.ts";
import { CONFLIST_FILE, NETWORK_NAME } from "../cni/conflist.ts";
import { shadowingIn } from "../cni/conf-dir.ts";
import type { DesiredNode, AgentPaths } from "./desired.ts";
import { contentHash, conflistPath, missingPlugins, writeConflist } from "./cni-files.ts";
import { findLeaks, listReservations, release, reservationDir, type LivePods } from "./ipam-gc.ts";

interface Repair {
  /** e.g. conflist-written, sysctl, chain-missing, jump-duplicated, host-route-missing, address-released. */
  kind: string;
  detail: string;
  /** Entries this repair touched, when it stands for several (the overlay's); default 1. */
  count?: number;
}

export interface ReconcileDeps {
  runner: Runner;
  backend: Backend;
  /** Absent: nobody can say which pods live here, so no address is ever released. */
  livePods?: LivePods;
  leakGraceSeconds: number;
  procSys?: string;
  now?: () => number;
}

export interface ReconcileReport {
  node: string;
  nodeIp: string;
  blocks: string[];
  backend: Backend["name"];
  repairs: Repair[];
  /** Problems that leave the node unable to run pods although everything else was applied. */
  problems: string[];
  /** Another network config that sorts before ours: the runtime uses it, so the node must not be ready. */
  shadowedBy?: string;
  conflist: { path: string; hash: string };
  /** Our chains per table and the host device: all present after a successful reconcile. */
  chains: DesiredNode["rules"]["owned"];
  hostDevice: string;
  /** vxlan mode: the tunnel device and how many other nodes it reaches. */
  overlay?: { device: string; peers: number; mtu: number };
  addresses: { inUse: number; capacity: number; released: string[]; gc: "on" | "off" };
  durationMs: number;
}

export async function reconcile(
  desired: DesiredNode,
  paths: AgentPaths,
  deps: ReconcileDeps,
): Promise<ReconcileReport> {
  const started = performance.now();
  const repairs: Repair[] = [];
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
    }
  };

  // The host device first: on a kernel without ipvlan it fails before any other setting changed.
  repairs.push(...(await step("host device", () => applyHostPath(deps.runner, desired.hostPath))));
  // The overlay after the host device (received tunnel traffic reaches pods through it), before the
  // rules and the conflist: a pod that starts finds the other nodes reachable.
  const { overlay } = desired;
  if (overlay) repairs.push(...(await step("overlay", () => applyOverlay(deps.runner, overlay))));
  for (const key of await step("sysctls", () => applySysctls(desired.hostPath.sysctls, deps.procSys))) {
    repairs.push({ kind: "sysctl", detail: key });
  }
  for (const repair of await step("iptables", () => syncRules(deps.runner, deps.backend, desired.rules))) {
    repairs.push({ kind: repair.kind, detail: `${repair.table}/${repair.chain}` });
  }
  const problems = (await missingPlugins(paths.cniBinDir)).map(
    (plugin) => `missing CNI plugin ${plugin} in ${paths.cniBinDir}`,
  );
  if (await step("conflist", () => writeConflist(paths.cniConfDir, desired.conflist))) {
    repairs.push({ kind: "conflist-written", detail: conflistPath(paths.cniConfDir) });
  }
  const shadowedBy = await shadowingIn(paths.cniConfDir, CONFLIST_FILE);
  if (shadowedBy) {
    problems.push(
      `${shadowedBy} in ${paths.cniConfDir} shadows ${CONFLIST_FILE}: the runtime uses the first network config by name; remove it`,
    );
  }

  const dir = reservationDir(paths.ipamDataDir, NETWORK_NAME);
  const blocks = desired.node.blocks.map((block) => block.cidr);
  let reservations = await step("ipam", () => listReservations(dir, blocks));
  let released: string[] = [];
  if (deps.livePods) {
    const live = await step("live pods", () => deps.livePods!.podIps());
    const leaks = findLeaks(reservations, live, deps.leakGraceSeconds, (deps.now ?? Date.now)());
    released = await step("ipam", () => release(dir, leaks));
    for (const ip of released) repairs.push({ kind: "address-released", detail: ip });
    reservations = reservations.filter((r) => !released.includes(r.ip));
  }

  return {
    node: desired.node.name,
    nodeIp: desired.node.ip,
    blocks,
    backend: deps.backend.name,
    repairs,
    problems,
    ...(shadowedBy ? { shadowedBy } : {}),
    conflist: { path: conflistPath(paths.cniConfDir), hash: contentHash(desired.conflist) },
    chains: desired.rules.owned,
    hostDevice: desired.hostPath.device,
    ...(desired.overlay
      ? {
          overlay: {
            device: desired.overlay.device.name,
            peers: desired.overlay.peers.length,
            mtu: desired.overlay.device.mtu,
          },
        }
      : {}),
    addresses: {
      inUse: reservations.length,
      capacity: desired.node.capacity,
      released,
      gc: deps.livePods ? "on" : "off",
    },
    durationMs: Math.round((performance.now() - started) * 10) / 10,
  };
}

/**
 * vxlan, between resyncs: a Node joined, left or changed, so only the overlay's entries move, from
 * `applied` (what the last reconcile or follow made the kernel hold) to what `peers` say now. No
 * read-back and nothing else of the node: a join among 5,000 nodes is two small batches. The full
 * reconcile stays with the resync, which also repairs what this path cannot see (drift).
 */
export async function followPeers(
  runner: Runner,
  spec: ClusterSpec,
  applied: Overlay,
  self: string,
  peers: readonly OverlayPeer[],
): Promise<{ overlay: Overlay; repairs: Repair[]; durationMs: number }> {
  const started = performance.now();
  const overlay = desiredOverlay(spec, { name: self, ip: applied.device.local }, peers);
  const repairs = await applyPeerChanges(runner, applied, overlay);
  return { overlay, repairs, durationMs: Math.round((performance.now() - started) * 10) / 10 };
}
