// The guest side of the node agent's e2e test (run by test/e2e/agent.test.ts inside User-Mode Linux):
// builds the testbed's emulated AKS with the long-running agent on every node instead of `--once`, then
// breaks node1 in each way the issue names and measures the repair, leaks addresses, restarts the agent,
// and cleans the node up. Writes what it saw to result.json; the host-side test asserts on it.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { release } from "node:os";
import { loadSpec } from "../../src/spec/load.ts";
import type { ClusterSpec } from "../../src/spec/schema.ts";
import { run } from "../../src/sys/exec.ts";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { runSuite } from "../../src/verify/suite.ts";
import type { CheckResult } from "../../src/verify/checks.ts";
import { Testbed } from "../../src/testbed/guest/cluster.ts";
import { AgentLog } from "../../src/testbed/guest/agent-log.ts";
import { probe } from "../../src/testbed/guest/netns.ts";
import { CNI_BIN_DIR, type NodeDirs, type Profile } from "../../src/testbed/guest/node-setup.ts";
import type { EmulatedNode } from "../../src/testbed/guest/topology.ts";
import { RESULT_FILE, readJsonFile } from "../../src/testbed/job.ts";
import { agentStatusSchema } from "../../src/agent/status.ts";
import { AgentJobSchema, SpecInputSchema } from "./agent-result.ts";
import { CONFLIST_FILE, NETWORK_NAME } from "../../src/cni/conflist.ts";
import { HOST_DEVICE } from "../../src/hostpath/desired.ts";
import { guestCli } from "../../src/testbed/bundle.ts";
import { MASQ_CHAIN, POSTROUTING_CHAIN } from "../../src/noderules/masquerade.ts";

export interface AgentJob {
  specFile: string;
  resyncSeconds: number;
  /** The grace period the spec is switched to for the leak test (it starts at an hour). */
  leakGraceSeconds: number;
  restarts: number;
}

export interface Snapshot {
  iptables: string;
  links: string;
  routes: string;
  confDir: string[];
}

export interface Repair {
  what: string;
  /** Break → the agent's metrics show the repair (the node is then checked to be exactly as before). */
  ms: number;
  /** Full reconciles the agent finished from the break up to the one that repaired it. */
  reconciles: number;
  /** The agent's drift counter for the expected kind, before and after. */
  counter: [number, number];
  restored: boolean;
}

export interface AgentE2eResult {
  kernel: string;
  startToReadyMs: number[];
  rssKb: number[];
  status?: Record<string, unknown>;
  suite: CheckResult[];
  repairs: Repair[];
  leaks?: {
    doomed: string[];
    live: string[];
    /** Reservation files present after the agent reconciled with the new grace period, still inside it. */
    keptWithinGrace: string[];
    releasedAfterMs: number;
    remaining: string[];
    releasedCounter: number;
  };
  sigterm?: { exitCode: number | null; unchanged: boolean };
  restarts?: {
    runs: number;
    failures: number;
    duplicateJumpsBefore: number;
    afterMatchesInstall: boolean;
    ruleCounts: Record<string, number>;
  };
  cleanup?: {
    output: string;
    atAgentStart: Snapshot;
    before: Snapshot;
    installed: Snapshot;
    after: Snapshot;
  };
  refusal?: { lastError: string; ready: boolean };
  error?: string;
}

const ROOT = "/run/agent-e2e";
/**
 * How long a wait for the agent may last before the scenario gives up: a bound against a hang, never a
 * target (a starved guest CPU stretches every step; the figures are reported, not asserted).
 */
const DEADLINE_MS = 300_000;
const PORT = 9464;

function log(line: string): void {
  process.stdout.write(`agent-e2e: ${line}\n`);
}

function nodeRun(ns: string, argv: string[], input?: string) {
  return run("ip", ["netns", "exec", ns, ...argv], input === undefined ? {} : { input });
}

async function get(ns: string, path: string): Promise<string | undefined> {
  const result = await probe(
    ["ip", "netns", "exec", ns, "busybox", "wget", "-qO-", `http://127.0.0.1:${PORT}${path}`],
    5_000,
  );
  return result.code === 0 ? result.stdout : undefined;
}

async function metric(ns: string, line: RegExp): Promise<number> {
  const text = (await get(ns, "/metrics")) ?? "";
  const match = text.split("\n").find((l) => line.test(l));
  return match ? Number(match.split(" ").at(-1)) : 0;
}

const reconciles = (ns: string) => metric(ns, /^aks_ipvlan_reconciles_total /);
const repairsOf = (ns: string, kind: string) =>
  metric(ns, new RegExp(`^aks_ipvlan_drift_repairs_total\\{kind="${kind}"\\} `));

async function until<T>(
  what: string,
  probeOnce: () => Promise<T | undefined>,
  deadlineMs: number,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probeOnce();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}

/** The node's state that `--cleanup` must restore: iptables (no comments/counters), links, routes, conf dir. */
async function snapshot(ns: string, confDir: string): Promise<Snapshot> {
  const iptables = (await nodeRun(ns, ["iptables-legacy-save"])).stdout
    .split("\n")
    .filter((line) => !line.startsWith("#"))
    .map((line) => line.replace(/\[\d+:\d+\]$/, "[0:0]")) // policy counters move with every packet
    .join("\n");
  const links = (await run("ip", ["-n", ns, "-br", "link"])).stdout;
  const routes = (await run("ip", ["-n", ns, "route"])).stdout;
  const files = (await readdir(confDir).catch(() => [])).sort();
  return { iptables, links, routes, confDir: files };
}

interface Agent {
  node: EmulatedNode;
  dirs: NodeDirs;
  livePods: string;
  process: ChildProcess;
  install: Snapshot;
}

class Agents {
  readonly byNode = new Map<string, Agent>();
  readonly startToReadyMs: number[] = [];
  readonly rssKb: number[] = [];
  readonly configFile: string;

  constructor(configFile: string) {
    this.configFile = configFile;
  }

  profile(): Profile {
    return {
      name: "product",
      routes: (plan) => plan.routes,
      setUpNode: async (node, _plan, dirs) => {
        await mkdir(dirs.confDir, { recursive: true });
        const install = await snapshot(node.ns, dirs.confDir);
        const livePods = join(ROOT, node.name, "live-pods");
        await mkdir(dirname(livePods), { recursive: true });
        await writeFile(livePods, "");
        const agent = { node, dirs, livePods, install, process: undefined as unknown as ChildProcess };
        agent.process = await this.start(agent);
        this.byNode.set(node.name, agent);
      },
    };
  }

  args(agent: Pick<Agent, "node" | "dirs" | "livePods">, extra: string[] = []): string[] {
    // prettier-ignore
    return [
      "netns", "exec", agent.node.ns, process.execPath, guestCli(), "agent",
      "--config", this.configFile, "--node", agent.node.name, "--cni-conf-dir", agent.dirs.confDir,
      "--cni-bin-dir", CNI_BIN_DIR, "--ipam-data-dir", agent.dirs.ipamDataDir, "--live-pods", agent.livePods,
      ...extra,
    ];
  }

  /** Starts the long-running agent (a child process: `run` waits for an exit) and waits until ready. */
  async start(agent: Omit<Agent, "process">, resyncSeconds = job.resyncSeconds): Promise<ChildProcess> {
    const logFile = createWriteStream(join(ROOT, agent.node.name, "agent.log"), { flags: "a" });
    const started = performance.now();
    const child = spawn("ip", this.args(agent, ["--resync", String(resyncSeconds)]), {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr.pipe(logFile);
    // The agent says when it is ready; waiting for that line costs the guest's one CPU nothing, where
    // polling /readyz would take it from the agent it waits for.
    const agentLog = new AgentLog(child, (line) => logFile.write(`${line}\n`));
    // Three agents start at once on the guest's one CPU with cold caches (about 20 s each measured
    // for a lone first start): a bound on the wait, not a target.
    await agentLog.waitFor((line) => line.msg === "ready", 240_000);
    // Then its HTTP surface must agree; a probe can time out on the busy guest, so it may be retried.
    await until(
      `${agent.node.name}'s /readyz to answer 200 after the agent logged ready`,
      async () => ((await get(agent.node.ns, "/readyz")) === undefined ? undefined : true),
      DEADLINE_MS,
    );
    this.startToReadyMs.push(Math.round(performance.now() - started));
    const status = await readFile(`/proc/${child.pid}/status`, "utf8");
    this.rssKb.push(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]));
    return child;
  }

  async stop(agent: Agent): Promise<number | null> {
    const exited = new Promise<number | null>((resolveExit) =>
      agent.process.once("exit", (code) => resolveExit(code)),
    );
    agent.process.kill("SIGTERM");
    return exited;
  }
}

let job: AgentJob;

async function reservations(dirs: NodeDirs): Promise<string[]> {
  return (await readdir(join(dirs.ipamDataDir, NETWORK_NAME)).catch(() => []))
    .filter((name) => /^\d+\.\d+\.\d+\.\d+$/.test(name))
    .sort();
}

/** Breaks node1 one way, then waits for the agent to put it back exactly as it was. */
async function measureRepair(
  agent: Agent,
  what: string,
  kind: string,
  breakIt: () => Promise<void>,
): Promise<Repair> {
  const ns = agent.node.ns;
  const before = await snapshot(ns, agent.dirs.confDir);
  const conflist = await readFile(join(agent.dirs.confDir, CONFLIST_FILE), "utf8");
  const forward = async () => (await nodeRun(ns, ["sysctl", "-n", "net.ipv4.ip_forward"])).stdout.trim();
  const counterBefore = await repairsOf(ns, kind);
  const reconcilesBefore = await reconciles(ns);
  const started = performance.now();
  await breakIt();
  // The agent's own account first (cheap to poll): the reconcile that counted the repair of this kind.
  const [counterAfter, reconcilesAfter] = await until(
    `the agent to repair: ${what}`,
    async () => {
      const [counter, count] = await Promise.all([repairsOf(ns, kind), reconciles(ns)]);
      return counter > counterBefore ? [counter, count] : undefined;
    },
    DEADLINE_MS,
  );
  const ms = Math.round(performance.now() - started);
  // Then the node itself: exactly as before the break.
  const expected = JSON.stringify({ ...before, conflist, forward: "1" });
  let last = "";
  const restored = await until(
    `${what} to be restored`,
    async () => {
      const now = await snapshot(ns, agent.dirs.confDir);
      const conflistNow = await readFile(join(agent.dirs.confDir, CONFLIST_FILE), "utf8").catch(() => "");
      last = JSON.stringify({ ...now, conflist: conflistNow, forward: await forward() });
      return last === expected ? true : undefined;
    },
    DEADLINE_MS,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nexpected: ${expected}\nlast seen: ${last}`);
  });
  return {
    what,
    ms,
    reconciles: reconcilesAfter - reconcilesBefore,
    counter: [counterBefore, counterAfter],
    restored,
  };
}

async function writeSpec(file: string, spec: object): Promise<void> {
  // As the kubelet updates a ConfigMap volume: the new file appears by rename.
  await writeFile(`${file}.new`, `${JSON.stringify(spec, null, 2)}\n`);
  await rename(`${file}.new`, file);
}

async function main(jobFile: string): Promise<void> {
  job = await readJsonFile(jobFile, AgentJobSchema);
  const resultFile = join(dirname(jobFile), RESULT_FILE);
  const result: AgentE2eResult = { kernel: release(), startToReadyMs: [], rssKb: [], suite: [], repairs: [] };
  const configDir = join(ROOT, "config");
  const configFile = join(configDir, "cluster.yaml");
  const agents = new Agents(configFile);
  let testbed: Testbed | undefined;
  try {
    await mkdir(configDir, { recursive: true });
    const specInput = await readJsonFile(job.specFile, SpecInputSchema);
    await writeSpec(configFile, specInput);
    const spec: ClusterSpec = await loadSpec(configFile);

    log(`building ${spec.nodes.length} nodes with the long-running agent`);
    testbed = await Testbed.build(spec, agents.profile(), join(ROOT, "nodes"));
    result.startToReadyMs = agents.startToReadyMs;
    result.rssKb = agents.rssKb;
    log(`agents ready in ${agents.startToReadyMs.join(", ")} ms; running the suite`);
    result.suite = await runSuite(testbed, { runId: "agent" });
    for (const check of result.suite) log(`${check.status.padEnd(4)} ${check.id}`);

    const node1 = agents.byNode.get(spec.nodes[0]!.name)!;
    const ns = node1.node.ns;
    const status = agentStatusSchema.parse(JSON.parse((await get(ns, "/status")) ?? "{}"));
    result.status = status;
    const block = status.blocks![0]!;

    // ---- drift: each break is repaired by the agent within one resync ----
    result.repairs.push(
      await measureRepair(node1, "masquerade chain deleted", "chain-missing", () =>
        nodeRun(
          ns,
          ["iptables-legacy-restore", "--noflush"],
          `*nat\n-F ${POSTROUTING_CHAIN}\n-F ${MASQ_CHAIN}\n-X ${MASQ_CHAIN}\nCOMMIT\n`,
        ).then(() => undefined),
      ),
      await measureRepair(node1, "conflist deleted", "conflist-written", () =>
        rm(join(node1.dirs.confDir, CONFLIST_FILE)),
      ),
      await measureRepair(node1, "host route deleted", "host-route-missing", () =>
        run("ip", ["-n", ns, "route", "del", block, "dev", HOST_DEVICE]).then(() => undefined),
      ),
      await measureRepair(node1, "ip_forward set to 0", "sysctl", () =>
        nodeRun(ns, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]).then(() => undefined),
      ),
    );
    for (const repair of result.repairs)
      log(`repaired "${repair.what}" in ${repair.ms} ms (${repair.reconciles} reconciles)`);

    // ---- leaks: 5 pods vanish without CNI DEL; 2 live pods keep their addresses ----
    const live = [];
    for (const name of ["live-a", "live-b"])
      live.push(await testbed.createPod({ name, node: node1.node.name, role: "client" }));
    const doomed = [];
    for (let i = 0; i < 5; i++)
      doomed.push(await testbed.createPod({ name: `doomed-${i}`, node: node1.node.name, role: "client" }));
    for (const pod of doomed) await run("ip", ["netns", "del", `p-${pod.name}`]); // no DEL: the runtime lost them
    const doomedIps = doomed.map((pod) => pod.ip);
    for (const agent of agents.byNode.values()) {
      const alive = (await reservations(agent.dirs)).filter((ip) => !doomedIps.includes(ip));
      await writeFile(agent.livePods, `${alive.join("\n")}\n`);
    }
    // While the spec's grace period (an hour during the suite) covers them, the doomed reservations
    // stay: two reconciles after the live-pods list lost them, they are all there.
    const reconcilesAtLoss = await reconciles(ns);
    await until(
      "two reconciles after the pods were lost",
      async () => ((await reconciles(ns)) >= reconcilesAtLoss + 2 ? true : undefined),
      DEADLINE_MS,
    );
    const keptWithinGrace = (await reservations(node1.dirs)).filter((ip) => doomedIps.includes(ip));
    // Then they are made older than a shorter grace period, which the spec now sets: the agent reloads
    // it and frees them. Ages are file times, so no clock of this slow guest decides the verdict.
    const releasedBefore = await repairsOf(ns, "address-released");
    const agedAt = Date.now() / 1000 - 2 * job.leakGraceSeconds;
    for (const ip of doomedIps) await utimes(join(node1.dirs.ipamDataDir, NETWORK_NAME, ip), agedAt, agedAt);
    const editedAt = Date.now();
    await writeSpec(configFile, {
      ...specInput,
      agent: { ...(specInput.agent ?? {}), leakGraceSeconds: job.leakGraceSeconds },
    });
    await until(
      "the leaked addresses to be released",
      async () => {
        const left = await reservations(node1.dirs);
        return doomedIps.some((ip) => left.includes(ip)) ? undefined : true;
      },
      DEADLINE_MS,
    );
    result.leaks = {
      doomed: doomedIps,
      live: live.map((pod) => pod.ip),
      keptWithinGrace,
      releasedAfterMs: Date.now() - editedAt,
      remaining: await reservations(node1.dirs),
      releasedCounter: (await repairsOf(ns, "address-released")) - releasedBefore,
    };
    log(`leaks: ${JSON.stringify(result.leaks)}`);

    // ---- SIGTERM leaves the datapath; 20 restarts leave one copy of every rule and jump ----
    const running = await snapshot(ns, node1.dirs.confDir);
    const exitCode = await agents.stop(node1);
    result.sigterm = {
      exitCode,
      unchanged: JSON.stringify(await snapshot(ns, node1.dirs.confDir)) === JSON.stringify(running),
    };
    const jump = `-A POSTROUTING -m comment --comment "aks-ipvlan: pod masquerade and hairpin" -j ${POSTROUTING_CHAIN}`;
    await nodeRun(ns, ["iptables-legacy-restore", "--noflush"], `*nat\n${jump}\n${jump}\nCOMMIT\n`);
    const duplicateJumpsBefore = (await snapshot(ns, node1.dirs.confDir)).iptables
      .split("\n")
      .filter((l) => l === jump).length;
    let failures = 0;
    for (let i = 0; i < job.restarts; i++) {
      const once = await probe(["ip", ...agents.args(node1, ["--once"])], 60_000);
      if (once.code !== 0) {
        failures++;
        log(`--once failed: ${once.stdout} ${once.stderr}`);
      }
    }
    const after = await snapshot(ns, node1.dirs.confDir);
    const ruleCounts: Record<string, number> = {};
    for (const line of after.iptables
      .split("\n")
      .filter((l) => l.startsWith("-A ") && l.includes("aks-ipvlan"))) {
      ruleCounts[line] = (ruleCounts[line] ?? 0) + 1;
    }
    result.restarts = {
      runs: job.restarts,
      failures,
      duplicateJumpsBefore,
      afterMatchesInstall: after.iptables === running.iptables && after.routes === running.routes,
      ruleCounts,
    };

    // ---- --cleanup puts node1 back as it was: cleanup, install, cleanup ends where it started ----
    // (kube-proxy and portmap changed the node since the agent first started, so the comparison is
    // between the two cleanups, with a full install in between.)
    const cleanupArgs = ["ip", ...agents.args(node1, ["--cleanup"])];
    const first = await probe(cleanupArgs, 60_000);
    const before = await snapshot(ns, node1.dirs.confDir);
    const reinstall = await probe(["ip", ...agents.args(node1, ["--once"])], 60_000);
    const installed = await snapshot(ns, node1.dirs.confDir);
    const second = await probe(cleanupArgs, 60_000);
    result.cleanup = {
      output: [first, reinstall, second].map((r) => `exit ${r.code}: ${r.stdout}${r.stderr}`).join("\n"),
      atAgentStart: node1.install,
      before,
      installed,
      after: await snapshot(ns, node1.dirs.confDir),
    };

    // ---- an ipvlan of another mode on node2's master: the agent refuses instead of switching pods ----
    const node2 = agents.byNode.get(spec.nodes[1]!.name)!;
    const errors = await metric(node2.node.ns, /^aks_ipvlan_reconcile_errors_total /);
    await run("ip", [
      "-n",
      node2.node.ns,
      "link",
      "add",
      "rogue0",
      "link",
      spec.masterInterface,
      "type",
      "ipvlan",
      "mode",
      "l2",
    ]);
    await until(
      "node2's agent to report the conflict",
      async () =>
        (await metric(node2.node.ns, /^aks_ipvlan_reconcile_errors_total /)) > errors ? true : undefined,
      DEADLINE_MS,
    );
    const status2 = agentStatusSchema.parse(JSON.parse((await get(node2.node.ns, "/status")) ?? "{}"));
    result.refusal = { lastError: status2.lastError ?? "", ready: status2.ready };
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
    log(`error: ${result.error}`);
    for (const agent of agents.byNode.values()) {
      const text = await readFile(join(ROOT, agent.node.name, "agent.log"), "utf8").catch(() => "");
      log(`${agent.node.name} agent log tail:\n${text.split("\n").slice(-15).join("\n")}`);
    }
  } finally {
    for (const agent of agents.byNode.values())
      if (agent.process.exitCode === null) agent.process.kill("SIGTERM");
  }
  await writeFileAtomic(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}

await main(process.argv[2]!);
