// The guest side of the agent fault suite (run by test/faults/agents.test.ts inside User-Mode Linux,
// whose kernel has ipvlan and iptables-legacy): the guest's own namespace is one node (eth0 with the
// node's address), and agent processes (agent-worker.ts) reconcile it:
//  - concurrency: N agents at once, R rounds, each from a cleaned node; then the same without the node
//    lock, the negative control;
//  - kill -9 at every point of a reconcile the worker names (start, before/during/after each command,
//    end), each from a cleaned node, then one undisturbed reconcile; and controls the verdict must flag;
//  - a read-only and a full conf dir under a spec that changes the conflist.
// It records what it saw in result.json; the host-side test asserts on it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { run } from "../../src/sys/exec.ts";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { RESULT_FILE, readJsonFile } from "../../src/testbed/job.ts";
import { CONFLIST_FILE } from "../../src/cni/conflist.ts";
import { HOST_DEVICE } from "../../src/hostpath/desired.ts";
import { PROGRAMS_VARIABLE, bundledPath } from "../../src/testbed/bundle.ts";
import { REPO } from "../../src/testbed/runners/runner.ts";
import { BACKEND_ENV } from "../../src/agent/context.ts";
import { MASQ_CHAIN } from "../../src/noderules/masquerade.ts";
import {
  FaultsJobSchema,
  PAYLOAD_POINT,
  WORKER_SOURCE,
  WorkerEventSchema,
  type FaultsResult,
  type NodeState,
  type Round,
  type WorkerArgs,
  type WorkerEvent,
  type WorkerRequest,
} from "./agents-protocol.ts";

/** The worker's bundle, which the host made with the guest's (agents.test.ts). */
const WORKER = (() => {
  const programs = process.env[PROGRAMS_VARIABLE];
  return programs ? bundledPath(programs, WORKER_SOURCE) : join(REPO, WORKER_SOURCE);
})();
const ROOT = "/run/faults";
const NODE = "node1";
const NODE_ADDRESS = "10.224.0.4/16";
const PATHS: WorkerArgs["paths"] = {
  cniConfDir: join(ROOT, "net.d"),
  cniBinDir: "/usr/lib/cni",
  ipamDataDir: join(ROOT, "ipam"),
};
const CONFLIST = join(PATHS.cniConfDir, CONFLIST_FILE);
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
/** iptables-legacy is first on the guest's PATH under the plain names (init.sh). */
const ENV = { ...process.env, [BACKEND_ENV]: "legacy" };
type Done = Extract<WorkerEvent, { event: "done" }>;

/** One agent process: requests in on stdin, events out on stdout, in a process group of its own. */
class Agent {
  private readonly child: ChildProcess;
  private readonly events: WorkerEvent[] = [];
  private waiter?: { resolve: (event: WorkerEvent) => void; reject: (error: Error) => void };
  private readonly exited: Promise<void>;

  static async start(): Promise<Agent> {
    const agent = new Agent();
    const first = await agent.next();
    if (first.event !== "ready") throw new Error(`the agent process said ${JSON.stringify(first)} first`);
    return agent;
  }

  private constructor() {
    const args: WorkerArgs = { node: NODE, paths: PATHS };
    this.child = spawn(process.execPath, [WORKER, JSON.stringify(args)], {
      detached: true,
      env: ENV,
      stdio: ["pipe", "pipe", "inherit"],
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const event = WorkerEventSchema.parse(JSON.parse(line));
      if (this.waiter) this.waiter.resolve(event);
      else this.events.push(event);
      this.waiter = undefined;
    });
    this.exited = new Promise((done) =>
      this.child.once("exit", (code, signal) => {
        this.gone = `the agent process exited (${signal ?? code})`;
        this.waiter?.reject(new Error(this.gone));
        done();
      }),
    );
  }

  private gone?: string;

  next(): Promise<WorkerEvent> {
    const queued = this.events.shift();
    if (queued) return Promise.resolve(queued);
    if (this.gone) return Promise.reject(new Error(this.gone));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  send(request: WorkerRequest): void {
    this.child.stdin!.write(`${JSON.stringify(request)}\n`);
  }

  async reconcile(request: WorkerRequest): Promise<Done> {
    this.send(request);
    for (;;) {
      const event = await this.next();
      if (event.event === "done") return event;
    }
  }

  /** kill -9 of the agent and every command it runs, as when its pod is killed; waits until all are gone. */
  async kill(): Promise<void> {
    process.kill(-this.child.pid!, "SIGKILL");
    await this.exited;
    await groupGone(this.child.pid!);
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}

/**
 * A killed command finishes its system call before it dies: wait until no member of the group runs.
 * The deadline only ends a hang; a starved guest CPU may take long to reap, which is not a verdict.
 */
async function groupGone(group: number): Promise<void> {
  const deadline = performance.now() + 300_000;
  while (performance.now() < deadline) {
    const alive: string[] = [];
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[2] === String(group) && fields[0] !== "Z") alive.push(pid);
    }
    if (alive.length === 0) return;
    await new Promise((next) => setTimeout(next, 10));
  }
  throw new Error(`process group ${group} still runs after kill -9`);
}

/** Our lines of iptables-save, each prefixed with its table, sorted; counters dropped. */
function ourLines(save: string): string[] {
  let table = "";
  const lines: string[] = [];
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) table = line;
    else if (line.includes("AKS-IPVLAN")) lines.push(`${table} ${line.replace(/ \[\d+:\d+\]$/, "")}`);
  }
  return lines.sort();
}

function isJump(line: string): boolean {
  return /^\*\w+ -A (?!AKS-IPVLAN)\S+ .*-j AKS-IPVLAN-/.test(line);
}

async function hostDeviceFingerprint(): Promise<string | undefined> {
  const links = z
    .array(
      z.looseObject({
        ifname: z.string(),
        flags: z.array(z.string()).optional(),
        link: z.string().optional(),
        linkinfo: z.looseObject({ info_kind: z.string().optional() }).optional(),
      }),
    )
    .parse(JSON.parse((await run("ip", ["-json", "-details", "link", "show"])).stdout));
  const device = links.find((link) => link.ifname === HOST_DEVICE);
  if (!device) return undefined;
  const routes = (await run("ip", ["-4", "route", "show", "table", "main", "dev", HOST_DEVICE])).stdout;
  return JSON.stringify({
    kind: device.linkinfo?.info_kind,
    master: device.link,
    up: device.flags?.includes("UP"),
    routes: routes.split("\n").filter(Boolean).sort(),
  });
}

interface Desired {
  hostDevice: string;
  rules: string[];
  conflist: string;
}

async function nodeState(desired: Desired): Promise<NodeState> {
  const notes: string[] = [];
  const device = await hostDeviceFingerprint();
  const rules = ourLines((await run("iptables-save", [])).stdout);
  const conflist = await readFile(CONFLIST, "utf8").catch(() => undefined);
  const forward = (await readFile(IP_FORWARD, "utf8")).trim();
  const tableState = (table: string) => {
    const ours = (lines: string[]) => lines.filter((line) => line.startsWith(`*${table} `));
    const now = ours(rules);
    if (now.length === 0) return "before";
    if (JSON.stringify(now) === JSON.stringify(ours(desired.rules))) return "desired";
    notes.push(`${table} rules ${JSON.stringify(now)}`);
    return "neither";
  };
  const state: NodeState = {
    hostDevice: device === undefined ? "before" : device === desired.hostDevice ? "desired" : "neither",
    sysctls: forward === "0" ? "before" : forward === "1" ? "desired" : "neither",
    filterRules: tableState("filter"),
    natRules: tableState("nat"),
    conflist: conflist === undefined ? "before" : conflist === desired.conflist ? "desired" : "neither",
    jumps: rules.filter(isJump).length,
    detail: "",
  };
  if (state.hostDevice === "neither") notes.push(`host device ${device}`);
  if (state.conflist === "neither") notes.push(`conflist of ${conflist!.length} bytes`);
  return { ...state, detail: notes.join("; ").slice(0, 2000) };
}

/** The guest's tables as it booted: no rule and no chain of anyone's (there is no kube-proxy here). */
const EMPTY_TABLES = [
  "*nat",
  ...["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"].map((chain) => `:${chain} ACCEPT [0:0]`),
  "COMMIT",
  "*filter",
  ...["INPUT", "FORWARD", "OUTPUT"].map((chain) => `:${chain} ACCEPT [0:0]`),
  "COMMIT",
  "",
].join("\n");

/**
 * Back to a node the agent never touched, in two commands (a command is the guest's largest cost):
 * the tables replaced by empty ones, the host device deleted (exit 1: there was none), ip_forward 0,
 * an empty conf dir.
 */
async function reset(): Promise<void> {
  await run("iptables-restore", [], { input: EMPTY_TABLES });
  await run("ip", ["link", "del", HOST_DEVICE], { okCodes: [0, 1] });
  await rm(PATHS.cniConfDir, { recursive: true, force: true });
  await mkdir(PATHS.cniConfDir, { recursive: true });
  await writeFile(IP_FORWARD, "0\n");
}

async function rounds(
  pool: Agent[],
  config: string,
  mode: WorkerRequest["mode"],
  count: number,
  desired: Desired,
) {
  const seen: Round[] = [];
  for (let round = 0; round < count; round++) {
    await reset();
    const outcomes = await Promise.all(pool.map((agent) => agent.reconcile({ config, mode })));
    seen.push({
      failures: outcomes.filter((done) => !done.ok).map((done) => done.error.slice(0, 400)),
      state: await nodeState(desired),
    });
    console.log(`faults: ${mode} round ${round + 1} of ${count}`);
  }
  return seen;
}

async function main(jobFile: string): Promise<void> {
  const job = await readJsonFile(jobFile, FaultsJobSchema);
  const config = job.specFile;
  const result: FaultsResult = {
    rounds: [],
    unlockedRounds: [],
    kills: [],
    killControls: [],
    workerStartMs: [],
    phaseMs: {},
  };
  let phaseStarted = performance.now();
  const phase = (name: string) => {
    result.phaseMs[name] = Math.round(performance.now() - phaseStarted);
    console.log(`faults: ${name} done in ${result.phaseMs[name]} ms`);
    phaseStarted = performance.now();
  };
  const startAgent = async () => {
    const started = performance.now();
    const agent = await Agent.start();
    result.workerStartMs.push(Math.round(performance.now() - started));
    return agent;
  };
  try {
    await rm(ROOT, { recursive: true, force: true });
    await mkdir(PATHS.cniConfDir, { recursive: true });
    await run("ip", ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"]);
    await run("ip", ["-batch", "-"], {
      input: `addr add ${NODE_ADDRESS} dev eth0\nlink set eth0 up\nlink set eth0-peer up\n`,
    });
    const pool = await Promise.all(Array.from({ length: job.agents }, startAgent));
    phase("start");

    // The desired state, and the points of a reconcile from a clean node, from one undisturbed run.
    await reset();
    const first = await pool[0]!.reconcile({ config, mode: "agent" });
    if (!first.ok) throw new Error(`the first reconcile failed: ${first.error}`);
    const desired: Desired = {
      hostDevice: (await hostDeviceFingerprint())!,
      rules: ourLines((await run("iptables-save", [])).stdout),
      conflist: await readFile(CONFLIST, "utf8"),
    };

    result.rounds = await rounds(pool, config, "agent", job.rounds, desired);
    phase("rounds");
    result.unlockedRounds = await rounds(pool, config, "unlocked", job.unlockedRounds, desired);
    phase("unlockedRounds");

    // The victims: the pool's agents (their start-up is the suite's largest cost), then fresh ones;
    // pool[0] stays alive to repair the node after each kill.
    const victims = pool.slice(1);
    const victim = async () => victims.shift() ?? (await startAgent());
    for (const point of first.points) {
      await reset();
      const agent = await victim();
      agent.send({ config, mode: "agent", stopAt: point });
      const reached = (await agent.next()).event === "at";
      await agent.kill();
      const state = await nodeState(desired);
      const repair = await pool[0]!.reconcile({ config, mode: "agent" });
      if (!repair.ok) throw new Error(`the reconcile after a kill at ${point} failed: ${repair.error}`);
      result.kills.push({ point, reached, state, repaired: await nodeState(desired) });
      console.log(`faults: killed at ${point}`);
    }
    phase("kills");

    // Controls: states a faulty agent would leave, which the verdict must call "between".
    await reset();
    const misordered = await victim();
    misordered.send({ config, mode: "conflist-first", stopAt: first.points[1]! });
    await misordered.next();
    await misordered.kill();
    result.killControls.push({
      what: "conflist written first, killed at its first command",
      state: await nodeState(desired),
    });
    await reset();
    const natFirst = await victim();
    natFirst.send({ config, mode: "nat-first", stopAt: PAYLOAD_POINT });
    const natReached = (await natFirst.next()).event === "at";
    await natFirst.kill();
    if (!natReached) throw new Error(`the nat-first control never reached "${PAYLOAD_POINT}"`);
    result.killControls.push({
      what: "the masquerade (nat) applied before the guard (filter), killed between the tables",
      state: await nodeState(desired),
    });
    await pool[0]!.reconcile({ config, mode: "agent" });
    await rm(CONFLIST);
    await run("iptables", ["-t", "nat", "-F", MASQ_CHAIN]);
    result.killControls.push({ what: "a chain half filled, no conflist", state: await nodeState(desired) });
    await pool[0]!.reconcile({ config, mode: "agent" });
    const jump = desired.rules.find(isJump)!;
    await run("iptables-restore", ["--noflush"], {
      input: `${jump.split(" ")[0]}\n${jump.slice(jump.indexOf(" ") + 1)}\nCOMMIT\n`,
    });
    result.killControls.push({ what: "one jump twice", state: await nodeState(desired) });
    await pool[0]!.reconcile({ config, mode: "agent" });
    await writeFile(CONFLIST, desired.conflist.slice(0, desired.conflist.length / 2));
    result.killControls.push({ what: "a torn conflist", state: await nodeState(desired) });
    phase("killControls");

    // A conf dir that cannot take a new conflist: a spec that changes it, on a read-only and a full tmpfs.
    const changed = join(ROOT, "changed.yaml");
    const spec = z.record(z.string(), z.unknown()).parse(parse(await readFile(config, "utf8")));
    await writeFile(changed, stringify({ ...spec, mtu: 1400 }));
    await reset();
    await pool[0]!.reconcile({ config, mode: "agent" });
    await run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", PATHS.cniConfDir]);
    await writeFile(CONFLIST, desired.conflist);
    await run("mount", ["-o", "remount,ro", PATHS.cniConfDir]);
    const readOnly = await pool[0]!.reconcile({ config: changed, mode: "agent" });
    const kept = async () => (await readFile(CONFLIST, "utf8").catch(() => "")) === desired.conflist;
    result.readOnly = { ok: readOnly.ok, error: readOnly.error.slice(0, 400), conflistKept: await kept() };
    await run("mount", ["-o", "remount,rw", PATHS.cniConfDir]);
    await writeFile(join(PATHS.cniConfDir, "filler"), Buffer.alloc(1 << 20)).catch(() => undefined);
    const full = await pool[0]!.reconcile({ config: changed, mode: "agent" });
    result.full = { ok: full.ok, error: full.error.slice(0, 400), conflistKept: await kept() };
    // Control: a plain write (truncate, then write) of a conflist larger than the room left loses the old one.
    await writeFile(CONFLIST, desired.conflist.repeat(16)).catch(() => undefined);
    result.plainWriteKeptConflist = await kept();
    await run("umount", [PATHS.cniConfDir]);
    await writeFile(CONFLIST, desired.conflist);
    const writable = await pool[0]!.reconcile({ config: changed, mode: "agent" });
    result.changedWhenWritable = writable.ok && !(await kept());
    phase("confDir");
    await Promise.all([pool[0]!, ...victims].map((agent) => agent.close()));
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
}

await main(process.argv[2]!);
