// The guest side of the NetworkPolicy e2e test (run by test/e2e/netpol.test.ts inside User-Mode Linux):
// builds the emulated AKS (3 nodes, the real node agent), runs the upstream model's pods x/y/z × a/b/c
// twice over (a second replica of each pod, placed on the next node, so that every pair of model pods is
// probed both on one node and across nodes), measures the datapath facts enforcement relies on, then
// for each translated upstream case enforces the case's policies through the agent's own enforcer
// (src/agent/policy, one per node, fed the case's world instead of informers: the API server does not
// run in the guest) and probes every pair, comparing each cell with the reference evaluator. Ends with
// the negative control (enforcement off) and the window between a pod's sandbox and its rules.
// Writes what it saw to result.json; the host-side test asserts on it.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { dirname, join } from "node:path";
import { release } from "node:os";
import { createInterface } from "node:readline";
import { loadSpec } from "../../src/spec/load.ts";
import { run } from "../../src/sys/exec.ts";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { Testbed } from "../../src/testbed/guest/cluster.ts";
import { productProfile } from "../../src/testbed/guest/node-setup.ts";
import { iptablesRestore } from "../../src/testbed/guest/netns.ts";
import { RESULT_FILE, readJsonFile } from "../../src/testbed/job.ts";
import { NetpolJobSchema } from "./netpol-result.ts";
import type { PodRef } from "../../src/verify/driver.ts";
import type { PolicyEnforcer, SyncReport } from "../../src/agent/policy/enforcer.ts";
import { testbedEnforcer } from "../../src/testbed/guest/policies.ts";
import { mayConnect } from "../../src/policy/evaluate.ts";
import type { PolicyPod, PolicyWorld, Protocol } from "../../src/policy/model.ts";
import { CASES, MODEL_PODS, type CaseEnv, type ModelPod, type NetpolCase } from "../netpol/cases.ts";
import { caseTitle, caseWorld } from "../netpol/reachability.ts";

export interface NetpolJob {
  specFile: string;
  /** The prober binary (built on the host from netpol-prober.c). */
  prober: string;
  /** The titles of the cases to run on the kernel (test/netpol/cases.ts; the simulator runs them all). */
  cases: string[];
  probeTimeoutMs: number;
}

export interface Mismatch {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
  expected: boolean;
  reason: string;
}

export interface CaseRun {
  title: string;
  group: string;
  cells: number;
  sameNode: number;
  crossNode: number;
  /** Cells the evaluator denies. */
  denied: number;
  mismatches: Mismatch[];
  /** Cells probed a second time because the first answer disagreed (all are listed if still wrong). */
  retried: number;
  podsUpdated: number;
  enforceMs: number;
  probeMs: number;
}

export interface Facts {
  /** Pod → pod, with a DROP in the node's filter INPUT, OUTPUT and FORWARD: still reaches (ipvlan). */
  nodeChainsBypassed: { sameNode: boolean; crossNode: boolean };
  /** A REJECT in the server pod's INPUT (source = client) stops it: same node, and across nodes? */
  podInputStops: { sameNode: boolean; crossNode: boolean };
  /** A REJECT in the client pod's OUTPUT (destination = server) stops it, same node and across. */
  podOutputStops: { sameNode: boolean; crossNode: boolean };
  /** Packet counts of probe rules while a pod connects to a ClusterIP (backend on its node / another). */
  service: Record<string, number>;
  /** A REJECT in node filter OUTPUT matching ctstate DNAT, src pod, dst backend stops it. */
  serviceNodeRejectStops: { sameNode: boolean; crossNode: boolean };
  nft: { addTable: string; iptablesNft: string };
}

export interface NetpolE2eResult {
  kernel: string;
  placement: Record<string, string>;
  facts?: Facts;
  cases: CaseRun[];
  skipped: { title: string; why: string }[];
  /** Model pairs never probed on one node / across nodes (both must be empty). */
  uncovered: { sameNode: string[]; crossNode: string[] };
  control?: { title: string; cells: number; denied: number; mismatches: number }[];
  window?: {
    addToEnforcedMs: number;
    reachableBefore: boolean;
    reachableAfter: boolean;
    syncMs: number;
    /** Fail-closed: from the sandbox's CNI ADD to its isolation, and whether a peer on its node and one on another reached it then. */
    failClosed: {
      addToIsolatedMs: number;
      isolated: boolean;
      reachedSameNode: boolean;
      reachedCrossNode: boolean;
    };
  };
  /**
   * The enforcer's read-back (sync with `verify`) on this kernel: repairs when nothing drifted (must be
   * none), and a denied cell while the server pod's rules were flushed by hand, then after one verifying
   * sync (which must repair exactly that pod).
   */
  drift?: {
    steadyRepairs: string[];
    reachableWhileFlushed: boolean;
    repairedPods: string[];
    deniedAfterRepair: boolean;
  };
  setupMs: number;
  casesMs: number;
  /** Syncs repeated because something failed in the one before. */
  syncRetries: number;
  error?: string;
}

const ROOT = "/run/netpol";
const PORTS = ["80", "81"];

function log(line: string): void {
  process.stdout.write(`netpol: ${line}\n`);
}

/** The prober process: serves in every pod, probes in batches (see netpol-prober.c). */
class Prober {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #next = 0;

  constructor(binary: string) {
    this.#child = spawn(binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stderr.on("data", (chunk: Buffer) => log(`prober: ${chunk.toString().trim()}`));
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async #line(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("the prober exited");
    return value as string;
  }

  async serve(netns: string): Promise<void> {
    this.#child.stdin.write(`serve ${netns} ${PORTS.join(" ")}\n`);
    const answer = await this.#line();
    if (answer !== "ok") throw new Error(`prober: ${answer}`);
  }

  /** Runs every probe at once; returns `ok` or the failure reason per probe, in order. */
  async probe(
    probes: readonly { netns: string; ip: string; port: number; protocol: Protocol }[],
    timeoutMs: number,
  ): Promise<{ ok: boolean; reason: string }[]> {
    const ids = probes.map(() => `p${this.#next++}`);
    const input = probes.map(
      (p, i) => `probe ${ids[i]} ${p.netns} ${p.ip} ${p.port} ${p.protocol.toLowerCase()}`,
    );
    this.#child.stdin.write(`${[...input, `go ${timeoutMs}`].join("\n")}\n`);
    const answers = new Map<string, { ok: boolean; reason: string }>();
    for (let line = await this.#line(); line !== "done"; line = await this.#line()) {
      const [id, verdict, ...reason] = line.split(" ");
      answers.set(id!, { ok: verdict === "ok", reason: reason.join(" ") });
    }
    return ids.map((id) => answers.get(id) ?? { ok: false, reason: "no answer" });
  }

  stop(): void {
    this.#child.stdin.end();
  }
}

type Cell = { netns: string; ip: string; port: number; protocol: Protocol };

/**
 * Timeouts of the attempts after the first for cells that stayed silent: a starved guest CPU can delay
 * an answer by seconds, while every denial of the product answers at once (REJECT). So silence is never
 * a verdict on a cell that should answer: it is probed again, longer. An answer is final, and silence
 * where a denial is expected agrees with it (ICMP errors for UDP are rate-limited by the kernel).
 */
const PATIENT_TIMEOUTS_MS = [10_000, 30_000];

/** Probes `cells` (expected: whether each should answer; undefined: not known) until each settles. */
async function probeSettled(
  prober: Prober,
  cells: readonly (Cell & { expected?: boolean })[],
): Promise<{ answers: { ok: boolean; reason: string }[]; retried: number }> {
  const answers = await prober.probe(cells, job.probeTimeoutMs);
  let retried = 0;
  for (const timeoutMs of PATIENT_TIMEOUTS_MS) {
    const silent = cells.flatMap((cell, i) =>
      cell.expected !== false && !answers[i]!.ok && answers[i]!.reason === "timeout" ? [i] : [],
    );
    if (silent.length === 0) break;
    retried += silent.length;
    const again = await prober.probe(
      silent.map((i) => cells[i]!),
      timeoutMs,
    );
    silent.forEach((i, k) => (answers[i] = again[k]!));
  }
  return { answers, retried };
}

interface Replica {
  model: ModelPod;
  pod: PodRef;
  netns: string;
  /** The pod's name in the policy world: `a` for the first replica, `a-2` for the second. */
  name: string;
}

let job: NetpolJob;

async function main(jobFile: string): Promise<void> {
  job = await readJsonFile(jobFile, NetpolJobSchema);
  const result: NetpolE2eResult = {
    kernel: release(),
    placement: {},
    cases: [],
    skipped: [],
    uncovered: { sameNode: [], crossNode: [] },
    setupMs: 0,
    casesMs: 0,
    syncRetries: 0,
  };
  const prober = new Prober(job.prober);
  try {
    const spec = await loadSpec(job.specFile);
    let started = performance.now();
    const testbed = await Testbed.build(spec, productProfile(job.specFile), ROOT);
    const nodes = await testbed.nodes();
    const nodeIp = new Map(nodes.map((node) => [node.name, node.ip]));
    // Replica 1 of model pod i on node i mod 3, replica 2 on the next node: for every pair, one of the
    // four replica combinations shares a node and another does not.
    // Created all at once: each CNI ADD is a few program starts, which overlap in the guest.
    const replicas: Replica[] = await Promise.all(
      MODEL_PODS.flatMap((model, index) =>
        [0, 1].map(async (copy): Promise<Replica> => {
          const node = nodes[(index + copy) % nodes.length]!.name;
          const [ns, name] = model.split("/") as [string, string];
          const pod = await testbed.createPod({
            name: `${ns}-${name}${copy ? "-2" : ""}`,
            node,
            role: "client",
          });
          return { model, pod, netns: `p-${pod.name}`, name: copy ? `${name}-2` : name };
        }),
      ),
    );
    for (const replica of replicas) {
      await prober.serve(replica.netns);
      result.placement[replica.pod.name] = `${replica.pod.node} ${replica.pod.ip}`;
    }
    result.setupMs = Math.round(performance.now() - started);
    log(`18 pods serving in ${result.setupMs} ms`);

    result.facts = await measureFacts(testbed, prober, replicas, nodeIp);
    log(`facts: ${JSON.stringify(result.facts)}`);

    const enforcerOf = (node: (typeof nodes)[number], failClosed: boolean) =>
      testbedEnforcer(testbed, node, { failClosed, stateDir: ROOT });
    const enforcers = nodes.map((node) => enforcerOf(node, false));
    // As the agent does: what failed is retried by the next sync (the guest's CPU is shared and slow,
    // so a node's iptables-save can hit its timeout); counted, and fatal after ten tries.
    const enforce = async (world: PolicyWorld): Promise<SyncReport[]> => {
      const all: SyncReport[] = [];
      for (let attempt = 1; ; attempt++) {
        const reports = await Promise.all(enforcers.map((enforcer) => enforcer.sync(world)));
        all.push(...reports);
        const failed = reports.flatMap((report) => [
          ...report.failed.map((f) => `${f.pod}: ${f.error}`),
          ...report.unlocated,
          ...(report.nodeRulesError ? [`node rules: ${report.nodeRulesError}`] : []),
        ]);
        if (failed.length === 0) return all;
        result.syncRetries++;
        // A bound only against a loop that never ends; load alone does not fail ten syncs in a row.
        if (attempt === 10) throw new Error(`enforcement failed: ${failed.join("; ")}`);
      }
    };
    const first = replicas.filter((replica) => !replica.name.endsWith("-2"));
    const env: CaseEnv = {
      ns: (name) => name,
      ipOf: (model) => first.find((replica) => replica.model === model)!.pod.ip,
    };
    const worldOf = (c: NetpolCase): PolicyWorld => {
      const base = caseWorld(c, env, (model) => first.find((r) => r.model === model)!.pod.node);
      const seconds = base.pods.map((pod) => {
        const second = replicas.find(
          (r) => r.model === `${pod.namespace}/${pod.name}` && r.name.endsWith("-2"),
        )!;
        return { ...pod, name: second.name, ip: second.pod.ip, node: second.pod.node };
      });
      return { ...base, pods: [...base.pods, ...seconds] };
    };
    const cells = (c: NetpolCase, world: PolicyWorld) => {
      const podOf = (replica: Replica) =>
        world.pods.find((pod) => pod.namespace === replica.model.split("/")[0] && pod.name === replica.name)!;
      return c.probes
        .filter((probe) => probe.protocol !== "SCTP")
        .flatMap(({ port, protocol }) =>
          replicas.flatMap((from) =>
            replicas.map((to) => {
              const client: PolicyPod = podOf(from);
              const expected = mayConnect(world, { pod: client, ip: client.ip }, podOf(to), port, protocol, {
                nodeIPOf: (pod) => nodeIp.get(pod.node)!,
              });
              return { from, to, port, protocol, expected };
            }),
          ),
        );
    };
    const probeCells = async (list: ReturnType<typeof cells>) =>
      probeSettled(
        prober,
        list.map((cell) => ({
          netns: cell.from.netns,
          ip: cell.to.pod.ip,
          port: cell.port,
          protocol: cell.protocol,
          expected: cell.expected,
        })),
      );

    const coverage = new Map<string, Set<"same" | "cross">>();
    const runnable = CASES.filter((c) => {
      if (c.needs === "sctp" || c.probes.every((probe) => probe.protocol === "SCTP")) {
        result.skipped.push({ title: caseTitle(c), why: "SCTP: the UML kernel has no sctp module" });
        return false;
      }
      return job.cases.includes(caseTitle(c));
    });
    started = performance.now();
    for (const c of runnable) {
      const world = worldOf(c);
      let t = performance.now();
      const reports = await enforce(world);
      const enforceMs = Math.round(performance.now() - t);
      const list = cells(c, world);
      t = performance.now();
      const { answers, retried } = await probeCells(list);
      const probeMs = Math.round(performance.now() - t);
      const run: CaseRun = {
        title: caseTitle(c),
        group: c.group,
        cells: list.length,
        sameNode: 0,
        crossNode: 0,
        denied: list.filter((cell) => !cell.expected).length,
        mismatches: [],
        retried,
        podsUpdated: reports.reduce((sum, report) => sum + report.applied.length, 0),
        enforceMs,
        probeMs,
      };
      list.forEach((cell, i) => {
        const same = cell.from.pod.node === cell.to.pod.node;
        if (same) run.sameNode++;
        else run.crossNode++;
        const pair = `${cell.from.model}>${cell.to.model}`;
        coverage.set(pair, (coverage.get(pair) ?? new Set()).add(same ? "same" : "cross"));
        if (answers[i]!.ok !== cell.expected)
          run.mismatches.push({
            from: cell.from.pod.name,
            to: cell.to.pod.name,
            port: cell.port,
            protocol: cell.protocol,
            expected: cell.expected,
            reason: answers[i]!.reason,
          });
      });
      result.cases.push(run);
      for (const m of run.mismatches.slice(0, 20)) log(`  wrong: ${JSON.stringify(m)}`);
      log(
        `${run.mismatches.length === 0 ? "pass" : "FAIL"} ${run.title}: ${run.cells} cells (${run.denied} denied), ${run.mismatches.length} wrong, enforce ${enforceMs} ms (${run.podsUpdated} pods), probe ${probeMs} ms`,
      );
    }
    result.casesMs = Math.round(performance.now() - started);
    for (const from of MODEL_PODS)
      for (const to of MODEL_PODS) {
        const seen = coverage.get(`${from}>${to}`) ?? new Set();
        if (!seen.has("same")) result.uncovered.sameNode.push(`${from}>${to}`);
        if (!seen.has("cross")) result.uncovered.crossNode.push(`${from}>${to}`);
      }

    result.drift = await measureDrift(prober, enforcers, worldOf(runnable[0]!), replicas, enforce);
    log(`drift: ${JSON.stringify(result.drift)}`);

    // Negative control: the same probes with enforcement off must disagree with the evaluator wherever
    // it denies. One case of each group.
    await enforce({ ...worldOf(runnable[0]!), policies: [] });
    result.control = [];
    const groups = new Set<string>();
    for (const c of runnable) {
      if (groups.has(c.group)) continue;
      const list = cells(c, worldOf(c));
      const denied = list.filter((cell) => !cell.expected).length;
      if (denied === 0) continue;
      groups.add(c.group);
      const { answers } = await probeCells(list);
      const mismatches = list.filter((cell, i) => answers[i]!.ok !== cell.expected).length;
      result.control.push({ title: caseTitle(c), cells: list.length, denied, mismatches });
      log(`control (enforcement off) ${caseTitle(c)}: ${mismatches} of ${denied} denied cells reachable`);
    }

    result.window = await measureWindow(
      testbed,
      prober,
      enforce,
      worldOf(runnable[0]!),
      nodes[0]!.name,
      enforcerOf(nodes[0]!, true),
    );
    log(`window: ${JSON.stringify(result.window)}`);
    await testbed.teardown();
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
    log(`error: ${result.error}`);
  }
  prober.stop();
  await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * The facts enforcement relies on, re-established on this kernel with counting rules and probes: where
 * pod traffic can be filtered (the pod's namespace, not the node's chains) and what each namespace sees
 * of a connection to a ClusterIP.
 */
async function measureFacts(
  testbed: Testbed,
  prober: Prober,
  replicas: Replica[],
  nodeIp: Map<string, string>,
): Promise<Facts> {
  // A client, a server on its node and one on another.
  const client = replicas[0]!;
  const same = replicas.find((r) => r !== client && r.pod.node === client.pod.node)!;
  const cross = replicas.find((r) => r.pod.node !== client.pod.node)!;
  const node = client.pod.node;
  const reach = async (server: Replica, expected?: boolean) =>
    (
      await probeSettled(prober, [
        {
          netns: client.netns,
          ip: server.pod.ip,
          port: 80,
          protocol: "TCP",
          ...(expected === undefined ? {} : { expected }),
        },
      ])
    ).answers[0]!.ok;
  const both = async () => ({ sameNode: await reach(same), crossNode: await reach(cross) });
  const filter = (rules: string[]) => ["*filter", ...rules, "COMMIT", ""].join("\n");
  const flush = filter(["-F INPUT", "-F OUTPUT", "-F FORWARD"]);
  if (!(await both()).sameNode) throw new Error("facts: pod → pod fails before any rule");

  // DROP: silence is what this measures, so the blocked direction gets no second, longer attempt.
  const blockPods = (chain: string) => `-A ${chain} -s ${client.pod.ip}/32 -j DROP`;
  await iptablesRestore(node, filter(["INPUT", "OUTPUT", "FORWARD"].map(blockPods)));
  const nodeChainsBypassed = { sameNode: await reach(same), crossNode: await reach(cross, false) };
  await iptablesRestore(node, flush);

  for (const server of [same, cross])
    await iptablesRestore(
      server.netns,
      filter([`-A INPUT -s ${client.pod.ip}/32 -p tcp -j REJECT --reject-with tcp-reset`]),
    );
  const reachedIn = await both();
  for (const server of [same, cross]) await iptablesRestore(server.netns, flush);

  await iptablesRestore(
    client.netns,
    filter([same, cross].map((s) => `-A OUTPUT -d ${s.pod.ip}/32 -p tcp -j REJECT --reject-with tcp-reset`)),
  );
  const reachedOut = await both();
  await iptablesRestore(client.netns, flush);

  // Services: counting rules (no target) in every namespace on the way, then one connection each.
  const services = await Promise.all(
    [same, cross].map((backendPod, i) =>
      testbed.createService({
        name: `facts-${i}`,
        backend: backendPod.pod,
        type: "ClusterIP",
        protocol: "TCP",
        port: 80,
        targetPort: 80,
      }),
    ),
  );
  const [sameSvc, crossSvc] = services as [(typeof services)[0], (typeof services)[0]];
  const nodeIP = nodeIp.get(node)!;
  const counters: { label: string; ns: string; rule: string }[] = [
    { label: "client OUTPUT dst ClusterIP", ns: client.netns, rule: `OUTPUT -d ${sameSvc.clusterIP}/32` },
    { label: "client OUTPUT dst backend", ns: client.netns, rule: `OUTPUT -d ${same.pod.ip}/32` },
    { label: "same-node backend INPUT src client", ns: same.netns, rule: `INPUT -s ${client.pod.ip}/32` },
    { label: "same-node backend INPUT src node IP", ns: same.netns, rule: `INPUT -s ${nodeIP}/32` },
    { label: "other-node backend INPUT src client", ns: cross.netns, rule: `INPUT -s ${client.pod.ip}/32` },
    { label: "other-node backend INPUT src node IP", ns: cross.netns, rule: `INPUT -s ${nodeIP}/32` },
    {
      label: "node OUTPUT ctstate DNAT src client dst same-node backend",
      ns: node,
      rule: `OUTPUT -m conntrack --ctstate DNAT -s ${client.pod.ip}/32 -d ${same.pod.ip}/32`,
    },
    {
      label: "node OUTPUT ctstate DNAT src client dst other-node backend",
      ns: node,
      rule: `OUTPUT -m conntrack --ctstate DNAT -s ${client.pod.ip}/32 -d ${cross.pod.ip}/32`,
    },
    { label: "node FORWARD src client", ns: node, rule: `FORWARD -s ${client.pod.ip}/32` },
    {
      label: "other-node backend's node INPUT src client dst backend",
      ns: cross.pod.node,
      rule: `INPUT -s ${client.pod.ip}/32 -d ${cross.pod.ip}/32`,
    },
  ];
  const byNs = new Map<string, string[]>();
  counters.forEach(({ ns, rule }, i) =>
    byNs.set(ns, [...(byNs.get(ns) ?? []), `-A ${rule} -p tcp --dport 80 -m comment --comment fact-${i}`]),
  );
  for (const [ns, rules] of byNs) await iptablesRestore(ns, filter(rules));
  for (const svc of [sameSvc, crossSvc])
    await probeSettled(prober, [{ netns: client.netns, ip: svc.clusterIP, port: 80, protocol: "TCP" }]);
  const service: Record<string, number> = {};
  for (const ns of byNs.keys()) {
    const saved = (await run("ip", ["netns", "exec", ns, "iptables-legacy-save", "-c", "-t", "filter"]))
      .stdout;
    for (const line of saved.split("\n")) {
      const match = /^\[(\d+):\d+\].*--comment "?fact-(\d+)/.exec(line);
      if (match) service[counters[Number(match[2])]!.label] = Number(match[1]);
    }
  }
  for (const ns of byNs.keys()) await iptablesRestore(ns, flush);

  await iptablesRestore(
    node,
    filter(
      [same, cross].map(
        (s) =>
          `-A OUTPUT -m conntrack --ctstate DNAT -s ${client.pod.ip}/32 -d ${s.pod.ip}/32 -p tcp -j REJECT --reject-with tcp-reset`,
      ),
    ),
  );
  const svcReach = async (ip: string) =>
    (await probeSettled(prober, [{ netns: client.netns, ip, port: 80, protocol: "TCP" }])).answers[0]!.ok;
  const serviceNodeRejectStops = {
    sameNode: !(await svcReach(sameSvc.clusterIP)),
    crossNode: !(await svcReach(crossSvc.clusterIP)),
  };
  await iptablesRestore(node, flush);
  for (const svc of services) await testbed.deleteService(svc);

  await run("modprobe", ["nf_tables"], { okCodes: [0, 1] });
  const attempt = async (argv: string[]) => {
    const outcome = await run("ip", ["netns", "exec", client.netns, ...argv], {
      okCodes: [0, 1, 2, 4, 127],
    }).catch((error: Error) => ({ code: -1, stdout: "", stderr: error.message }));
    return `exit ${outcome.code}: ${(outcome.stderr || outcome.stdout).trim()}`;
  };
  const nft = {
    addTable: await attempt(["nft", "add", "table", "inet", "netpol-facts"]),
    iptablesNft: await attempt(["iptables-nft", "-A", "OUTPUT", "-d", "192.0.2.1/32", "-j", "DROP"]),
  };
  return {
    nodeChainsBypassed,
    podInputStops: { sameNode: !reachedIn.sameNode, crossNode: !reachedIn.crossNode },
    podOutputStops: { sameNode: !reachedOut.sameNode, crossNode: !reachedOut.crossNode },
    service,
    serviceNodeRejectStops,
    nft,
  };
}

/**
 * Drift on the real kernel: `world` (a case that denies) enforced, one verifying sync that must find
 * nothing to repair, then the filter tables of both pods of a denied pair flushed by hand (the denial
 * gone), and one verifying sync that must put back exactly those two pods' rules.
 */
async function measureDrift(
  prober: Prober,
  enforcers: readonly PolicyEnforcer[],
  world: PolicyWorld,
  replicas: readonly Replica[],
  enforce: (world: PolicyWorld) => Promise<SyncReport[]>,
): Promise<NonNullable<NetpolE2eResult["drift"]>> {
  await enforce(world);
  const verify = () => Promise.all(enforcers.map((enforcer) => enforcer.sync(world, { verify: true })));
  const repairsIn = (reports: SyncReport[]) =>
    reports.flatMap((r) => [...r.repairs.pods, ...r.repairs.node.map((n) => `${n.kind} ${n.chain}`)]);
  const steadyRepairs = repairsIn(await verify());
  // A pair on one node that the case denies (across nodes the node's chains deny too): the probe must
  // be refused while enforced.
  const podOf = (replica: Replica) =>
    world.pods.find(
      (pod) => `${pod.namespace}/${pod.name}` === `${replica.model.split("/")[0]}/${replica.name}`,
    )!;
  const pair = replicas
    .flatMap((from) => replicas.map((to) => ({ from, to })))
    .find(
      ({ from, to }) =>
        from !== to &&
        from.pod.node === to.pod.node &&
        !mayConnect(world, { pod: podOf(from), ip: from.pod.ip }, podOf(to), 80, "TCP", {
          nodeIPOf: () => "",
        }),
    )!;
  const probePair = async () =>
    (await probeSettled(prober, [{ netns: pair.from.netns, ip: pair.to.pod.ip, port: 80, protocol: "TCP" }]))
      .answers[0]!.ok;
  // Both ends: the client's egress and the server's ingress each deny the pair.
  for (const replica of [pair.from, pair.to])
    await run("ip", ["netns", "exec", replica.netns, "iptables-legacy", "-F"]);
  const reachableWhileFlushed = await probePair();
  const repaired = await verify();
  return {
    steadyRepairs,
    reachableWhileFlushed,
    repairedPods: repaired.flatMap((r) => r.repairs.pods.map(String)),
    deniedAfterRepair: !(await probePair()),
  };
}

/**
 * A new pod in a namespace whose pods are all isolated for ingress: how long from its sandbox (CNI ADD
 * done) to its rules in force through the enforcer (namespace lookup + restore), and whether a pod of
 * another namespace reached it before and after.
 */
async function measureWindow(
  testbed: Testbed,
  prober: Prober,
  enforce: (world: PolicyWorld) => Promise<SyncReport[]>,
  world: PolicyWorld,
  node: string,
  failClosed: PolicyEnforcer,
): Promise<NonNullable<NetpolE2eResult["window"]>> {
  const denyAll: PolicyWorld = {
    ...world,
    policies: [
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "deny-ingress", namespace: "x" },
        spec: { podSelector: {}, policyTypes: ["Ingress"] },
      },
    ],
  };
  await enforce(denyAll);
  const pod = await testbed.createPod({ name: "x-late", node, role: "client" });
  const added = performance.now();
  await prober.serve(`p-${pod.name}`);
  const client = world.pods.find((p) => p.namespace === "y")!;
  const probeLate = async () =>
    (
      await probeSettled(prober, [
        { netns: `p-${client.namespace}-${client.name}`, ip: pod.ip, port: 80, protocol: "TCP" },
      ])
    ).answers[0]!.ok;
  const reachableBefore = await probeLate();
  const synced = performance.now();
  await enforce({
    ...denyAll,
    pods: [
      ...denyAll.pods,
      { namespace: "x", name: "late", ip: pod.ip, node, labels: { pod: "late" }, ports: [] },
    ],
  });
  const done = performance.now();
  const reachableAfter = await probeLate();

  // Fail-closed: the node's enforcer knows the world before the pod; as the agent does on the new
  // namespace's inotify event, it syncs once the sandbox exists, before the pod is in the world.
  await failClosed.sync(denyAll);
  const early = await testbed.createPod({ name: "x-early", node, role: "client" });
  const created = performance.now();
  const report = await failClosed.sync(denyAll);
  const isolatedAt = performance.now();
  await prober.serve(`p-${early.name}`);
  const peers = world.pods.filter((p) => p.namespace === "y");
  const sameNodePeer = peers.find((p) => p.node === node)!;
  const crossNodePeer = peers.find((p) => p.node !== node)!;
  const {
    answers: [same, cross],
  } = await probeSettled(
    prober,
    [sameNodePeer, crossNodePeer].map((peer) => ({
      netns: `p-${peer.namespace}-${peer.name}`,
      ip: early.ip,
      port: 80,
      protocol: "TCP" as const,
    })),
  );
  return {
    addToEnforcedMs: Math.round(done - added),
    syncMs: Math.round(done - synced),
    reachableBefore,
    reachableAfter,
    failClosed: {
      addToIsolatedMs: Math.round(isolatedAt - created),
      isolated: report.isolated.includes(`p-${early.name}`),
      reachedSameNode: same!.ok,
      reachedCrossNode: cross!.ok,
    },
  };
}

await main(process.argv[2]!);
