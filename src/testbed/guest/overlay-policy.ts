// NetworkPolicy across the VXLAN tunnel (routing.mode vxlan) on the real kernel. A packet from another
// node's pod arrives decapsulated on the VXLAN device and reaches the pod by the host device's route:
// forwarded (the node's FORWARD), not delivered through the node's INPUT as ipvlan L3S does in vnet
// mode. So this measures, with the node agents' enforcers (one per node, fed the world directly, as the
// demo does), whether ingress isolation holds against pods of other nodes: a server on the second node
// admits one client pod of the first node only; the first node's other pod and a pod on the server's
// own node must be refused, and without the policy (the negative control) all three connect. The
// server's egress and the allowed client's ingress are isolated too, so the allowed connection also
// shows each conntrack on the way (pods' and nodes') taking the replies for replies. It also
// counts which REJECT judged the denials: the server namespace's or the node's; then, with the
// server's own rules flushed by hand (drift), what the node alone still refuses.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import type { NetworkPolicy, PolicyPod } from "../../policy/model.ts";
import { INGRESS_CHAIN } from "../../policy/pod-firewall.ts";
import { NODE_INGRESS_CHAIN } from "../../policy/node-rules.ts";
import { probeCommand, probeTimeoutMs, type ProbeAnswer } from "../../verify/policy-cases.ts";
import type { NodeRef, PodRef } from "../../verify/driver.ts";
import type { OverlayPolicyRun } from "../job.ts";
import type { Testbed } from "./cluster.ts";
import { syncEnforcers, testbedEnforcer } from "./policies.ts";

const PORT = 80;
const APP = "app";
/** Rounds for a probe that got silence: an answer (a refusal included) is final, silence never is. */
const SILENT_ROUNDS = 6;

type Client = "allowed" | "other" | "sameNode";
const CLIENTS: readonly Client[] = ["allowed", "other", "sameNode"];
/** What probeCommand prints per target. */
const ANSWERS: Record<string, ProbeAnswer> = { "1": "open", "0": "refused", "-": "silent" };

export async function policyAcrossTunnel(
  testbed: Testbed,
  [first, second]: readonly NodeRef[],
  log: (line: string) => void,
): Promise<OverlayPolicyRun> {
  if (!first || !second) throw new Error("the overlay's policy check needs two nodes");
  const root = await mkdtemp(join(tmpdir(), "overlay-policy-"));
  const www = join(root, "www");
  await writeFileAtomic(join(www, "index.html"), "ok\n");
  const server = await testbed.createPod({ name: "pol-server", node: second.name, role: "client" });
  await testbed.execInPod(server, ["busybox", "httpd", "-p", String(PORT), "-h", www]);
  const clients: Record<Client, PodRef> = {
    allowed: await testbed.createPod({ name: "pol-allowed", node: first.name, role: "client" }),
    other: await testbed.createPod({ name: "pol-other", node: first.name, role: "client" }),
    sameNode: await testbed.createPod({ name: "pol-neighbour", node: second.name, role: "client" }),
  };
  const nodes = await testbed.nodes();
  const enforcers = nodes.map((node) =>
    testbedEnforcer(testbed, node, { failClosed: false, stateDir: root }),
  );
  const pods = [server, ...Object.values(clients)].map((pod): PolicyPod => ({
    namespace: "default",
    name: pod.name,
    ip: pod.ip,
    node: pod.node,
    labels: { [APP]: pod.name },
    ports: [{ port: PORT, protocol: "TCP" }],
  }));
  type Spec = Omit<NonNullable<NetworkPolicy["spec"]>, "podSelector">;
  const policy = (name: string, app: string, spec: Spec): NetworkPolicy => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace: "default" },
    spec: { podSelector: { matchLabels: { [APP]: app } }, ...spec },
  });
  // The server sends nothing of its own and the allowed client accepts nothing: the allowed connection
  // then stands only if each conntrack on the way (both pods', both nodes') takes its reply for one.
  const policies: NetworkPolicy[] = [
    policy("server-from-allowed", server.name, {
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: { matchLabels: { [APP]: clients.allowed.name } } }] }],
    }),
    policy("allowed-deny-ingress", clients.allowed.name, { policyTypes: ["Ingress"] }),
  ];
  const enforce = (inForce: NetworkPolicy[]) =>
    syncEnforcers(enforcers, { namespaces: [{ name: "default", labels: {} }], pods, policies: inForce });
  const probeAll = async () => {
    const answers = {} as Record<Client, ProbeAnswer>;
    for (const client of CLIENTS) answers[client] = await patientProbe(testbed, clients[client], server);
    return answers;
  };
  /** The verdicts, and the packets the REJECTs of the server's ingress matched meanwhile. */
  const judged = async () => {
    const before = await rejects(testbed, server, second);
    const verdicts = await probeAll();
    const after = await rejects(testbed, server, second);
    const counted = {
      podNamespace: after.podNamespace - before.podNamespace,
      node: after.node - before.node,
    };
    return { verdicts, rejects: counted };
  };
  try {
    const open = await probeAll();
    log(`overlay policy: no policy: ${JSON.stringify(open)}`);
    await enforce(policies);
    const enforced = await judged();
    log(`overlay policy: enforced: ${JSON.stringify(enforced)}`);
    // Drift, or a namespace the enforcer could not find: the server's own rules are gone; only the
    // node can still judge what comes from other nodes (a pod of its own node is nobody's to judge).
    await testbed.execInPod(server, ["iptables-legacy", "-w", "5", "-F", "INPUT"]);
    const withoutPodRules = await judged();
    log(`overlay policy: the server's own rules flushed: ${JSON.stringify(withoutPodRules)}`);
    return { open, enforced, withoutPodRules };
  } finally {
    await enforce([]);
    for (const pod of [server, ...Object.values(clients)]) await testbed.deletePod(pod);
  }
}

/** One GET; silence (a starved CPU) is probed again, an answer is final. */
async function patientProbe(testbed: Testbed, from: PodRef, to: PodRef): Promise<ProbeAnswer> {
  const targets = [{ ip: to.ip, port: PORT }];
  let answer: ProbeAnswer = "silent";
  for (let round = 0; round < SILENT_ROUNDS && answer === "silent"; round++) {
    const result = await testbed.execInPod(from, probeCommand(targets), {
      timeoutMs: probeTimeoutMs(targets),
    });
    const [line] = result.stdout.trim().split("\n");
    if (result.code !== 0 || !line || !(line in ANSWERS))
      throw new Error(
        `probing from ${from.name} failed (exit ${result.code}): ${result.stderr || result.stdout}`,
      );
    answer = ANSWERS[line]!;
  }
  return answer;
}

/**
 * Packets the REJECT rules for the server's ingress have matched: in the server's namespace (its
 * ingress chain) and on its node (the node's ingress chain, rules with the server as destination).
 */
async function rejects(testbed: Testbed, server: PodRef, node: NodeRef) {
  const save = ["iptables-legacy-save", "-c", "-t", "filter"];
  const [pod, host] = await Promise.all([testbed.execInPod(server, save), testbed.execOnNode(node, save)]);
  return {
    podNamespace: rejectPackets(pod.stdout, INGRESS_CHAIN),
    node: rejectPackets(host.stdout, NODE_INGRESS_CHAIN, `${server.ip}/32`),
  };
}

function rejectPackets(save: string, chain: string, destination?: string): number {
  let packets = 0;
  for (const line of save.split("\n")) {
    const match = /^\[(\d+):\d+\] -A (\S+) (.*)-j REJECT/.exec(line);
    if (!match || match[2] !== chain) continue;
    if (destination && !match[3]!.includes(`-d ${destination} `)) continue;
    packets += Number(match[1]);
  }
  return packets;
}
