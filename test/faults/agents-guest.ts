// The guest side of the agent fault suite (run by test/faults/agents.test.ts inside User-Mode Linux,
// whose kernel has ipvlan): one emulated node (a network namespace with eth0), then
//  - concurrency: 8 `agent --once` at once on the node, 20 rounds, each from a cleaned node;
//  - kill -9 at a sweep of moments through a reconcile, each from a cleaned node, then one clean run;
//  - a read-only and a full conf dir under a changed spec: the old conflist must survive.
// It records what it saw in result.json; the host-side test asserts on it.
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { CommandError, run } from "../../src/sys/exec.ts";
import { RESULT_FILE } from "../../src/testbed/job.ts";
import { CONFLIST_FILE } from "../../src/cni/conflist.ts";
import { HOST_DEVICE } from "../../src/hostpath/desired.ts";

export interface FaultsJob {
  specFile: string;
  agents: number;
  rounds: number;
  kills: number;
}

/** What one node holds, per component the reconcile applies (in its order). */
export interface NodeState {
  hostDevice: boolean;
  ipForward: boolean;
  /** Our iptables lines: none, exactly the desired ones, or something else ("partial"). */
  rules: "none" | "desired" | "partial";
  /** The conflist: absent, exactly the desired text, or something else. */
  conflist: "none" | "desired" | "other";
  jumps: number;
}

export interface FaultsResult {
  error?: string;
  rounds: Array<{ codes: number[]; failures: string[]; jumps: number; state: NodeState }>;
  kills: Array<{ delayMs: number; exited: string; state: NodeState; repaired: NodeState }>;
  readOnly?: { code: number; error: string; conflistKept: boolean };
  full?: { code: number; error: string; conflistKept: boolean };
}

const REPO = resolve(import.meta.dirname, "../..");
const NS = "fault1";
const ROOT = "/run/faults";
const CONF_DIR = join(ROOT, "net.d");
const IPAM_DIR = join(ROOT, "run/ipam");
const ENV = { ...process.env, AKS_IPVLAN_IPTABLES: "legacy" };

function agentArgv(specFile: string, ...extra: string[]): string[] {
  // prettier-ignore
  return [
    "netns", "exec", NS, process.execPath, join(REPO, "src/cli/main.ts"), "agent", ...extra,
    "--config", specFile, "--node", "node1",
    "--cni-conf-dir", CONF_DIR, "--cni-bin-dir", "/usr/lib/cni", "--ipam-data-dir", IPAM_DIR,
  ];
}

async function agentOnce(specFile: string): Promise<{ code: number; output: string }> {
  try {
    const result = await run("ip", agentArgv(specFile, "--once"), { env: ENV });
    return { code: 0, output: result.stdout };
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return { code: error.result.code, output: `${error.result.stdout}${error.result.stderr}` };
  }
}

async function inNs(argv: string[]): Promise<string> {
  return (await run("ip", ["netns", "exec", NS, ...argv])).stdout;
}

/** Back to a node the agent never touched: cleanup removes ours, ip_forward goes back to 0. */
async function reset(specFile: string): Promise<void> {
  await run("ip", agentArgv(specFile, "--cleanup"), { env: ENV });
  await inNs(["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
}

function ourRules(save: string): string[] {
  return save
    .split("\n")
    .filter((line) => line.includes("AKS-IPVLAN") && !/^-A (POSTROUTING|OUTPUT) /.test(line))
    .map((line) => line.replace(/\[\d+:\d+\]/, ""))
    .sort();
}

async function nodeState(desiredRules: string[], desiredConflist: string): Promise<NodeState> {
  const links = JSON.parse(await inNs(["ip", "-json", "link", "show"])) as Array<{ ifname: string }>;
  const save = await inNs(["iptables-legacy-save"]);
  const rules = ourRules(save);
  const conflist = await readFile(join(CONF_DIR, CONFLIST_FILE), "utf8").catch(() => undefined);
  return {
    hostDevice: links.some((link) => link.ifname === HOST_DEVICE),
    ipForward: (await inNs(["cat", "/proc/sys/net/ipv4/ip_forward"])).trim() === "1",
    rules:
      rules.length === 0
        ? "none"
        : JSON.stringify(rules) === JSON.stringify(desiredRules)
          ? "desired"
          : "partial",
    conflist: conflist === undefined ? "none" : conflist === desiredConflist ? "desired" : "other",
    jumps: save.split("\n").filter((line) => /^-A (POSTROUTING|OUTPUT) .*-j AKS-IPVLAN-/.test(line)).length,
  };
}

async function main(jobFile: string): Promise<void> {
  const job = JSON.parse(await readFile(jobFile, "utf8")) as FaultsJob;
  const result: FaultsResult = { rounds: [], kills: [] };
  try {
    await rm(ROOT, { recursive: true, force: true });
    await mkdir(CONF_DIR, { recursive: true });
    await run("ip", ["netns", "add", NS]);
    await run("ip", ["link", "add", "f1-vnet", "type", "veth", "peer", "name", "eth0", "netns", NS]);
    await run("ip", ["-n", NS, "-batch", "-"], {
      input: "addr add 10.224.0.4/16 dev eth0\nlink set eth0 up\nlink set lo up\n",
    });

    // The desired state, from one undisturbed run.
    const first = await agentOnce(job.specFile);
    if (first.code !== 0) throw new Error(`the first reconcile failed: ${first.output}`);
    const desiredRules = ourRules(await inNs(["iptables-legacy-save"]));
    const desiredConflist = await readFile(join(CONF_DIR, CONFLIST_FILE), "utf8");

    for (let round = 0; round < job.rounds; round++) {
      await reset(job.specFile);
      const outcomes = await Promise.all(Array.from({ length: job.agents }, () => agentOnce(job.specFile)));
      const state = await nodeState(desiredRules, desiredConflist);
      result.rounds.push({
        codes: outcomes.map((o) => o.code),
        failures: outcomes.filter((o) => o.code !== 0).map((o) => o.output.slice(0, 400)),
        jumps: state.jumps,
        state,
      });
    }

    // kill -9 at a sweep of moments: from before the first step to after the last.
    const started = performance.now();
    await reset(job.specFile);
    await agentOnce(job.specFile);
    const spanMs = performance.now() - started;
    for (let i = 0; i < job.kills; i++) {
      await reset(job.specFile);
      const delayMs = Math.round((spanMs * i) / job.kills);
      const child = spawn("ip", agentArgv(job.specFile, "--once"), { env: ENV, stdio: "ignore" });
      const exited = new Promise<string>((done) =>
        child.once("exit", (code, signal) => done(signal ?? String(code))),
      );
      // The moment is the variable under test, not a synchronisation: every moment must be safe.
      await new Promise((wait) => setTimeout(wait, delayMs));
      // `ip netns exec` execs node in place: the child's PID is the agent's.
      child.kill("SIGKILL");
      const how = await exited;
      const state = await nodeState(desiredRules, desiredConflist);
      await agentOnce(job.specFile);
      result.kills.push({
        delayMs,
        exited: how,
        state,
        repaired: await nodeState(desiredRules, desiredConflist),
      });
    }

    // A conf dir that cannot be written, under a spec that changes the conflist.
    const changed = join(dirname(job.specFile), "changed.yaml");
    await writeFile(changed, `${await readFile(job.specFile, "utf8")}\nmtu: 1400\n`);
    await reset(job.specFile);
    await agentOnce(job.specFile);
    await run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", CONF_DIR]);
    await writeFile(join(CONF_DIR, CONFLIST_FILE), desiredConflist);
    await run("mount", ["-o", "remount,ro", CONF_DIR]);
    const readOnly = await agentOnce(changed);
    result.readOnly = {
      code: readOnly.code,
      error: readOnly.output.slice(0, 400),
      conflistKept: (await readFile(join(CONF_DIR, CONFLIST_FILE), "utf8")) === desiredConflist,
    };
    await run("mount", ["-o", "remount,rw", CONF_DIR]);
    await writeFile(join(CONF_DIR, "filler"), Buffer.alloc(1 << 20)).catch(() => undefined);
    const full = await agentOnce(changed);
    result.full = {
      code: full.code,
      error: full.output.slice(0, 400),
      conflistKept: (await readFile(join(CONF_DIR, CONFLIST_FILE), "utf8")) === desiredConflist,
    };
    await run("umount", [CONF_DIR]);
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFile(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
}

await main(process.argv[2]!);
