// The VXLAN overlay on the real kernel (routing.mode vxlan), after the product's suite: a datagram of
// the full pod MTU with DF set crosses the tunnel between pods of two nodes and one a byte larger does
// not (the pod's own MTU refuses it), then the negative control: the second node's tunnel entries
// removed on the first node cut the path to it while the same node and the third node stay reachable,
// and the agent's next reconcile puts them back; last, the second node's rule into the overlay's table
// removed: the emulated VNet drops its pods' replies to the first node's IP (Azure's source check), so
// a NodePort on the first node to a pod on the second gets no answer until the agent restores it;
// then NetworkPolicy ingress isolation against pods of other nodes (overlay-policy.ts); last, the
// third node leaving and joining again while pods of the first two exchange datagrams.
import { z } from "zod";
import { join } from "node:path";
import { readFile, writeFile } from "node:fs/promises";
import { podMtu } from "../../spec/mtu.ts";
import { OVERLAY_DEVICE, OVERLAY_TABLE, macFor } from "../../overlay/desired.ts";
import { runSuite } from "../../verify/suite.ts";
import type { NodeRef, PodRef } from "../../verify/driver.ts";
import type { OverlayRun } from "../job.ts";
import { ipBatch } from "./netns.ts";
import { run } from "../../sys/exec.ts";
import type { Testbed } from "./cluster.ts";
import { runAgentOnce } from "./node-setup.ts";
import { policyAcrossTunnel } from "./overlay-policy.ts";

const ECHO_PORT = "7000";
/** IPv4 (20) and UDP (8) headers: the payload that fills a packet of the pod MTU. */
const HEADERS = 28;
/** Polls for the echo server's socket: each is one program start, bounded, no sleeping. */
const LISTEN_ATTEMPTS = 200;

const Summary = z.looseObject({
  repairs: z.array(z.looseObject({ kind: z.string(), count: z.number().optional() })),
});

export async function runOverlayChecks(
  testbed: Testbed,
  specFile: string,
  log: (line: string) => void,
): Promise<OverlayRun> {
  const mtu = podMtu(testbed.spec);
  if (mtu === undefined) throw new Error("the overlay checks need routing.mode vxlan");
  const [first, second, third] = await testbed.nodes();
  if (!first || !second || !third) throw new Error("the overlay checks need three nodes");
  const client = await testbed.createPod({ name: "mtu-client", node: first.name, role: "client" });
  const server = await testbed.createPod({ name: "mtu-server", node: second.name, role: "client" });
  testbed.startInPod(server, ["socat", `UDP4-RECVFROM:${ECHO_PORT},fork`, "EXEC:cat"]);
  await listening(testbed, server);
  const full = await udpProbe(testbed, client, server, mtu - HEADERS);
  const over = await udpProbe(testbed, client, server, mtu - HEADERS + 1);
  log(
    `overlay: ${full.payload} bytes with DF: exit ${full.code}, ${full.echoed} echoed; ${over.payload}: exit ${over.code} ${over.output.trim()}`,
  );

  const node = testbed.node(first.name);
  const peer = testbed.plan.nodes.find((candidate) => candidate.name === second.name)!;
  await ipBatch(node.ns, [
    ...peer.blocks.map((block) => `route del ${block.cidr} dev ${OVERLAY_DEVICE}`),
    `neigh del ${peer.ip} dev ${OVERLAY_DEVICE}`,
  ]);
  await run("bridge", [
    "-n",
    node.ns,
    "fdb",
    "del",
    macFor(peer.ip),
    "dev",
    OVERLAY_DEVICE,
    "dst",
    peer.ip,
    "self",
  ]);
  log(`overlay: ${second.name}'s tunnel entries removed on ${first.name}`);
  const removed = [
    ...(await runSuite(testbed, {
      runId: "tunnel-removed",
      only: ["pod-to-pod-cross-node"],
      nodes: [first.name, second.name],
      expectFail: ["pod-to-pod-cross-node"],
    })),
    ...(await runSuite(testbed, {
      runId: "tunnel-other",
      only: ["pod-to-pod-same-node", "pod-to-pod-cross-node"],
      nodes: [first.name, third.name],
    })),
  ];
  const dirs = node.dirs;
  const summary = Summary.parse(JSON.parse(await runAgentOnce(specFile, node, dirs)));
  const repairs = summary.repairs.map(({ kind, count }) => ({
    kind,
    ...(count === undefined ? {} : { count }),
  }));
  const [repaired] = await runSuite(testbed, {
    runId: "tunnel-repaired",
    only: ["pod-to-pod-cross-node"],
    nodes: [first.name, second.name],
  });
  const atRest = Summary.parse(JSON.parse(await runAgentOnce(specFile, node, dirs))).repairs.map(
    (r) => r.kind,
  );
  log(
    `overlay: repaired ${repairs.map((r) => `${r.kind}×${r.count ?? 1}`).join(", ")}; after: ${repaired!.status}; at rest: ${atRest.length} repairs`,
  );

  const other = testbed.node(second.name);
  await run("ip", ["-n", other.ns, "rule", "del", "pref", String(OVERLAY_TABLE)]);
  log(`overlay: ${second.name}'s rule into table ${OVERLAY_TABLE} removed`);
  const [without] = await runSuite(testbed, {
    runId: "no-overlay-rule",
    only: ["nodeport-cross-node"],
    nodes: [first.name, second.name],
    expectFail: ["nodeport-cross-node"],
  });
  const ruleRepairs = Summary.parse(JSON.parse(await runAgentOnce(specFile, other, other.dirs))).repairs;
  const [back] = await runSuite(testbed, {
    runId: "overlay-rule-back",
    only: ["nodeport-cross-node"],
    nodes: [first.name, second.name],
  });
  const rule = { without: without!, repairs: ruleRepairs.map((r) => r.kind), with: back! };
  log(
    `overlay: without the rule ${rule.without.status}; repaired ${rule.repairs.join(", ")}; then ${rule.with.status}`,
  );
  const policy = await policyAcrossTunnel(testbed, [first, second], log);
  const membership = await leaveAndJoin(testbed, specFile, [first, second, third], { client, server }, log);
  return { podMtu: mtu, full, over, removed, repairs, repaired: repaired!, atRest, rule, policy, membership };
}

const SpecNodes = z.looseObject({ nodes: z.array(z.looseObject({ name: z.string() })) });
/** The flow's datagrams and the steps' probes: distinct sizes, so each has its own payload file. */
const FLOW_BYTES = 100;
const STEP_BYTES = 64;

/**
 * The third node leaves, as its Node's deletion reaches the others (their agents run with a spec
 * without it), then joins again with its block (the agents run with the whole spec), while a pod on
 * the first node keeps sending datagrams to one on the second: each step's repairs, whether the first
 * node still routes the third's pod through the tunnel, a probe to that pod, and the flow's counts.
 */
async function leaveAndJoin(
  testbed: Testbed,
  specFile: string,
  nodes: readonly [NodeRef, NodeRef, NodeRef],
  flowPods: { client: PodRef; server: PodRef },
  log: (line: string) => void,
): Promise<OverlayRun["membership"]> {
  const [first, second, third] = nodes;
  const target = await testbed.createPod({ name: "join-server", node: third.name, role: "client" });
  testbed.startInPod(target, ["socat", `UDP4-RECVFROM:${ECHO_PORT},fork`, "EXEC:cat"]);
  await listening(testbed, target);
  const before = await udpProbe(testbed, flowPods.client, target, STEP_BYTES);
  const spec = SpecNodes.parse(JSON.parse(await readFile(specFile, "utf8")));
  const without = `${specFile}.without-${third.name}.json`;
  await writeFile(
    without,
    JSON.stringify({ ...spec, nodes: spec.nodes.filter((n) => n.name !== third.name) }),
  );
  const step = async (file: string) => {
    // Both agents at once: each spends most of its run starting (modules read through hostfs).
    const repairs = await Promise.all(
      [first, second].map(async (node) => {
        const emulated = testbed.node(node.name);
        const summary = Summary.parse(JSON.parse(await runAgentOnce(file, emulated, emulated.dirs)));
        return summary.repairs.map((repair) => repair.kind);
      }),
    );
    const { stdout } = await run("ip", ["-n", testbed.node(first.name).ns, "route", "get", target.ip]);
    const probe = await udpProbe(testbed, flowPods.client, target, STEP_BYTES);
    return { repairs, probe, tunnelled: stdout.includes(`dev ${OVERLAY_DEVICE}`) };
  };
  // The flow: one datagram after another until both steps are done, and one more after.
  let stepping = true;
  const counts = { sent: 0, echoed: 0 };
  const flow = (async () => {
    do {
      const probe = await udpProbe(testbed, flowPods.client, flowPods.server, FLOW_BYTES);
      counts.sent++;
      if (probe.echoed === FLOW_BYTES) counts.echoed++;
    } while (stepping);
  })();
  const left = await step(without);
  const joined = await step(specFile);
  stepping = false;
  await flow;
  log(
    `overlay: ${third.name} left (tunnelled ${left.tunnelled}, probe exit ${left.probe.code}) and joined (tunnelled ${joined.tunnelled}, probe exit ${joined.probe.code}); flow ${counts.echoed}/${counts.sent} echoed`,
  );
  return { before, left, joined, flow: counts };
}

async function listening(testbed: Testbed, pod: PodRef): Promise<void> {
  for (let attempt = 0; attempt < LISTEN_ATTEMPTS; attempt++) {
    const { stdout } = await testbed.execInPod(pod, ["ss", "-Huln", `sport = :${ECHO_PORT}`]);
    if (stdout.trim() !== "") return;
  }
  throw new Error(`the echo server in ${pod.name} did not listen on UDP ${ECHO_PORT}`);
}

/** One datagram of `payload` bytes with DF (mtudiscover=2), and the echo read back. */
async function udpProbe(testbed: Testbed, from: PodRef, to: PodRef, payload: number) {
  const file = join("/tmp", `overlay-payload-${payload}`);
  await writeFile(file, "x".repeat(payload));
  // prettier-ignore
  const result = await testbed.execInPod(from, [
    "socat", "-t", "5", "-T", "5", `OPEN:${file},rdonly!!STDOUT`, `UDP4:${to.ip}:${ECHO_PORT},mtudiscover=2`,
  ], { timeoutMs: 20_000 });
  return { payload, code: result.code, echoed: result.stdout.length, output: result.stderr.slice(0, 500) };
}
