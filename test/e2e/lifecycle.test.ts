// The lifecycle scenario on a real kernel (src/testbed/lifecycle): the real etcd and kube-apiserver
// inside the guest, nodes joining one after another through the node emulator, install from the
// rendered manifests, the agents and the controller running as the DaemonSet and Deployment with their
// ServiceAccounts, the last node joining after install, pods and a NetworkPolicy through the API, and
// uninstall leaving every node as it was. The guest does the work; this asserts and prints the figures.
import { describe, expect, it } from "vitest";
import { LIFECYCLE_SPEC, lifecycleProblems, runLifecycleInGuest } from "../../src/testbed/lifecycle/host.ts";
import { timedLines } from "./testbed.ts";

const NODES = (LIFECYCLE_SPEC.nodes ?? []).map((node) => node.name);

describe("the lifecycle on a real kernel", () => {
  it(
    "installs, gives a late node its block, enforces a policy made through the API across an agent restart, and uninstalls cleanly",
    { timeout: 1_500_000 },
    async () => {
      const lines = timedLines("testbed: ");
      const { result, bootMs, totalMs } = await runLifecycleInGuest({
        timeoutMs: 1_400_000,
        onLine: lines.onLine,
      }).finally(lines.print);
      const { steps, memoryMiB, blocks } = result;
      console.log(JSON.stringify({ bootMs, totalMs, steps, memoryMiB, blocks }, null, 2));
      expect(lifecycleProblems(result)).toEqual([]);
      // Every node got a block of its own, the one joining after install too.
      const given = NODES.map((node) => blocks[node] ?? []);
      for (const nodeBlocks of given) expect(nodeBlocks).toHaveLength(1);
      expect(new Set(given.flat()).size).toBe(NODES.length);
      // Every phase probed (a wrong probe in any is a problem above); under the policy, denials and
      // allowances on the same node and across, the late node's server among the denied, also after
      // its agent was restarted.
      const phases = ["before any policy", "policy created", "agent restarted", "policy deleted"];
      expect([...new Set(result.probes.map((probe) => probe.phase))]).toEqual(phases);
      const late = NODES.at(-1)!;
      for (const phase of ["policy created", "agent restarted"]) {
        const probes = result.probes.filter((probe) => probe.phase === phase);
        for (const where of ["same node", "across nodes"] as const)
          for (const expected of ["allowed", "denied"] as const)
            expect(probes.some((probe) => probe.where === where && probe.expected === expected)).toBe(true);
        expect(probes.some((probe) => probe.expected === "denied" && probe.to.endsWith(late))).toBe(true);
      }
      // The comparison sees what the product puts on a node (its chains, its host device, its conflist)...
      for (const node of NODES) {
        const changes = result.installed[node] ?? [];
        expect(changes.some((line) => /^iptables \+ .*AKS-IPVLAN/.test(line))).toBe(true);
        expect(changes).toContain("links + ipvl-host@eth0");
        expect(changes).toContain("confDir + 10-aks-ipvlan.conflist");
      }
      // ...and uninstall left none of it on any node.
      expect(result.leftovers).toEqual(Object.fromEntries(NODES.map((node) => [node, []])));
    },
  );
});
