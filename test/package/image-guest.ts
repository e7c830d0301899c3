// The guest side of the image test (test/package/image.test.ts, inside User-Mode Linux): the testbed's
// emulated AKS with, on every node, the long-running agent started from the image's root file system as
// a container runtime would start the DaemonSet's pod: the OCI config's environment, user, working
// directory, entry point and command; a chroot into the image with the node's network namespace
// (hostNetwork), the spec mounted at the ConfigMap's path, the node's /run/xtables.lock, /proc, /dev;
// the image's install-cni first (the init container). Then the agent must say ready, answer /readyz,
// and the node checks of the verification suite must pass. Writes what it saw to result.json.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, readdir, readlink, writeFile } from "node:fs/promises";
import { release } from "node:os";
import { dirname, join } from "node:path";
import { loadSpec } from "../../src/spec/load.ts";
import { run } from "../../src/sys/exec.ts";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { runSuite } from "../../src/verify/suite.ts";
import { Testbed } from "../../src/testbed/guest/cluster.ts";
import { AgentLog } from "../../src/testbed/guest/agent-log.ts";
import { probe } from "../../src/testbed/guest/netns.ts";
import type { Profile } from "../../src/testbed/guest/node-setup.ts";
import { RESULT_FILE, readJsonFile } from "../../src/testbed/job.ts";
import { CONFIG_DIR, CONFIG_KEY, IMAGE_CNI_BIN_DIR, XTABLES_LOCK } from "../../src/manifests/names.ts";
import { ImageJobSchema, type ImageJob, type ImageResult } from "./image-result.ts";

const ROOT = "/run/image-e2e";
const PORT = 9464;
/** Three agents start at once on the guest's one CPU with cold caches: a bound, not a target. */
const READY_TIMEOUT_MS = 300_000;

function log(line: string): void {
  process.stdout.write(`image-e2e: ${line}\n`);
}

/** The container's root: the image bound read-only, with what the runtime mounts into it. */
async function container(job: ImageJob, node: string, configDir: string): Promise<string> {
  const root = join(ROOT, "containers", node);
  await mkdir(root, { recursive: true });
  await run("mount", ["--bind", job.rootfs, root]);
  await run("mount", ["-o", "remount,bind,ro", root]);
  await run("mount", ["-t", "tmpfs", "tmpfs", join(root, "run")]);
  await run("mount", ["-t", "tmpfs", "tmpfs", join(root, "tmp")]);
  for (const dir of ["/proc", "/dev", "/sys"]) await run("mount", ["--rbind", dir, join(root, dir)]);
  // The testbed's node directories at the same path inside as outside: the conflist the agent writes
  // names its IPAM data directory, which the CNI runtime (outside) must find at that path.
  await mkdir(join(root, ROOT), { recursive: true });
  await run("mount", ["--bind", ROOT, join(root, ROOT)]);
  await run("mount", ["--bind", configDir, join(root, CONFIG_DIR)]);
  await writeFile(XTABLES_LOCK, "", { flag: "a" });
  await writeFile(join(root, XTABLES_LOCK), "");
  await run("mount", ["--bind", XTABLES_LOCK, join(root, XTABLES_LOCK)]);
  return root;
}

/** argv for `program` run in the container in the node's namespace with the image's config. */
function inContainer(job: ImageJob, ns: string, root: string, node: string, program: string[]): string[] {
  // prettier-ignore
  return [
    "netns", "exec", ns,
    "env", "-i", ...job.config.Env, `NODE_NAME=${node}`,
    // The guest kernel has no nftables NAT: the node's rules are legacy, as the testbed's agents are told.
    "AKS_IPVLAN_IPTABLES=legacy",
    "chroot", `--userspec=${job.config.User}:${job.config.User}`, root,
    "env", `--chdir=${job.config.WorkingDir}`, ...program,
  ];
}

async function main(jobFile: string): Promise<void> {
  const job = await readJsonFile(jobFile, ImageJobSchema);
  const result: ImageResult = { kernel: release(), agents: [], suite: [] };
  const children: ChildProcess[] = [];
  try {
    const configDir = join(ROOT, "config");
    await mkdir(configDir, { recursive: true });
    await copyFile(job.specFile, join(configDir, CONFIG_KEY));
    const spec = await loadSpec(join(configDir, CONFIG_KEY));
    const entry = [...job.config.Entrypoint];

    const profile: Profile = {
      name: "product",
      routes: (plan) => plan.routes,
      setUpNode: async (node, _plan, dirs) => {
        const root = await container(job, node.name, configDir);
        await mkdir(dirs.confDir, { recursive: true });
        const confBefore = (await readdir(dirs.confDir)).sort();
        const cniBin = join(ROOT, node.name, "cni-bin");
        await mkdir(cniBin, { recursive: true });
        const installed = await run(
          "ip",
          inContainer(job, node.ns, root, node.name, [
            ...entry,
            "install-cni",
            "--from",
            IMAGE_CNI_BIN_DIR,
            "--to",
            cniBin,
          ]),
        );
        const logFile = createWriteStream(join(ROOT, node.name, "agent.log"), { flags: "a" });
        const started = performance.now();
        // The image's command (agent --config at the ConfigMap's path) plus this node's directories.
        // prettier-ignore
        const child = spawn("ip", inContainer(job, node.ns, root, node.name, [
          ...entry, ...job.config.Cmd,
          "--cni-conf-dir", dirs.confDir, "--cni-bin-dir", cniBin, "--ipam-data-dir", dirs.ipamDataDir,
        ]), { stdio: ["ignore", "pipe", "pipe"] });
        children.push(child);
        child.stderr.pipe(logFile);
        const agentLog = new AgentLog(child, (line) => logFile.write(`${line}\n`));
        await agentLog.waitFor((line) => line.msg === "ready", READY_TIMEOUT_MS);
        // kubelet's readiness probe: from the node's namespace (hostNetwork), on loopback.
        // prettier-ignore
        const readyz = await probe(
          ["ip", "netns", "exec", node.ns, "busybox", "wget", "-qO-", `http://127.0.0.1:${PORT}/readyz`],
          30_000,
        );
        result.agents.push({
          node: node.name,
          confBefore,
          confAfter: (await readdir(dirs.confDir)).sort(),
          installCni: installed.stdout,
          startToReadyMs: Math.round(performance.now() - started),
          readyz: readyz.code === 0 ? readyz.stdout : `exit ${readyz.code}: ${readyz.stderr}`,
          // ip, env, chroot and env exec in turn: the pid is the agent's node by now.
          root: await readlink(`/proc/${child.pid}/root`),
          exe: await readlink(`/proc/${child.pid}/exe`),
        });
      },
    };
    log(`building ${spec.nodes.length} nodes with the agent from the image at ${job.rootfs}`);
    const testbed = await Testbed.build(spec, profile, join(ROOT, "nodes"));
    log("agents ready; running the suite");
    result.suite = await runSuite(testbed, { runId: "image" });
    for (const check of result.suite) log(`${check.status.padEnd(4)} ${check.id}`);
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
    log(`error: ${result.error}`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  }
  await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}

await main(process.argv[2]!);
