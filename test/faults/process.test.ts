// Faults that need a real process: its exit code and stderr as the shell sees them, a reader that
// closes the pipe early, a port already taken, a kernel without ipvlan, a full or read-only file
// system (a private mount namespace, `unshare -m`; the machine runs the tests as root).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDirSync } from "../fakes/temp-dir.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = join(ROOT, "src/cli/main.ts");
const SEED = join(ROOT, "examples/seed.yaml");
const scratch = tempDirSync("aks-ipvlan-process-");
const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

function cli(args: string[], options: { env?: NodeJS.ProcessEnv; prefix?: string[] } = {}) {
  const [file, ...rest] = [...(options.prefix ?? []), process.execPath, MAIN, ...args];
  const result = spawnSync(file!, rest, {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function specFile(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

function expectOneError(result: ReturnType<typeof cli>, code: number, pattern: RegExp) {
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr).toMatch(/^error: /);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).toContain("fix:");
  expect(result.stderr).not.toMatch(STACK_FRAME);
}

describe("exit codes and stderr of real processes", () => {
  it("an unsafe spec: exit 2, one error naming the field", () => {
    const spec = specFile("unsafe.yaml", "nodeSubnet: 0.0.0.0/0\n");
    expectOneError(cli(["plan", "--config", spec]), 2, /^error: nodeSubnet: /);
  });

  it("a YAML alias bomb: exit 2, no expansion", () => {
    const levels = ["b", "c", "d", "e", "f", "g", "h", "i"].map(
      (name, index, all) =>
        `${name}: &${name} [${Array(9)
          .fill(`*${index === 0 ? "a" : all[index - 1]}`)
          .join(",")}]`,
    );
    const spec = specFile("bomb.yaml", `a: &a [x,x,x,x,x,x,x,x,x]\n${levels.join("\n")}\n`);
    expectOneError(cli(["plan", "--config", spec]), 2, /aliases/);
  });

  it("lint findings: exit 1 with the findings on stdout, nothing on stderr", () => {
    const file = specFile("bad.conflist", JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [] }));
    const result = cli(["lint", file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("error plugins: no plugins in the list");
    expect(result.stderr).toBe("");
  });

  it("a reader that closes the pipe early (| head) ends the output quietly", async () => {
    const nodes = Array.from(
      { length: 3000 },
      (_, i) => `  - {name: n${i}, ip: 10.224.${(i >> 8) + 1}.${i & 255}}`,
    );
    const spec = specFile(
      "big.yaml",
      `nodeSubnet: 10.224.0.0/16\npodPool: [10.241.0.0/16]\nnodes:\n${nodes.join("\n")}\n`,
    );
    const child = spawn(process.execPath, [MAIN, "plan", "--config", spec, "-o", "json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // Like `head -c`: read the first chunk, then close the read end.
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("a listen port already in use: exit 1, the cause and the fix, nothing set up", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as AddressInfo).port;
    // masterInterface names no device: had the agent got past listen, its first step would refuse.
    const spec = specFile("busy.yaml", `${readFileSync(SEED, "utf8")}masterInterface: nope0\n`);
    const dirs = join(scratch, "busy");
    try {
      const result = await new Promise<ReturnType<typeof cli>>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            MAIN,
            "agent",
            "--config",
            spec,
            "--node",
            "node1",
            "--listen",
            `127.0.0.1:${port}`,
            "--cni-conf-dir",
            join(dirs, "net.d"),
            "--ipam-data-dir",
            join(dirs, "run/ipam"),
          ],
          { env: { ...process.env, AKS_IPVLAN_IPTABLES: "legacy" }, stdio: ["ignore", "pipe", "pipe"] },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.once("close", (code) => resolve({ code, stdout, stderr }));
      });
      expectOneError(result, 1, /EADDRINUSE/);
      expect(result.stderr).toContain("--listen");
      expect(existsSync(dirs)).toBe(false);
    } finally {
      holder.close();
    }
  });
});

describe("a kernel without ipvlan (this host's: `ip link add ... type ipvlan` says Unknown device type)", () => {
  const probe = spawnSync("unshare", ["-n", "ip", "link", "add", "probe0", "link", "lo", "type", "ipvlan"], {
    encoding: "utf8",
  });
  const noIpvlan = /Unknown device type/.test(probe.stderr);

  it.runIf(noIpvlan)(
    "agent --once names the module `ipvlan` and leaves ip_forward and the conf dir alone",
    () => {
      const netns = `aks-ipvlan-faults-${process.pid}`;
      spawnSync("ip", ["netns", "add", netns]);
      try {
        const spec = specFile("lo.yaml", `${readFileSync(SEED, "utf8")}masterInterface: lo\n`);
        const dirs = join(scratch, "no-ipvlan");
        const result = cli(
          [
            "agent",
            "--once",
            "--config",
            spec,
            "--node",
            "node1",
            "--cni-conf-dir",
            join(dirs, "net.d"),
            "--cni-bin-dir",
            "/usr/lib/cni",
            "--ipam-data-dir",
            join(dirs, "run/ipam"),
          ],
          { prefix: ["ip", "netns", "exec", netns], env: { AKS_IPVLAN_IPTABLES: "legacy" } },
        );
        expect(result.code).toBe(1);
        expect(result.stdout).toMatch(/kernel module `ipvlan`/);
        expect(result.stdout).not.toMatch(/Unknown device type/);
        const forward = spawnSync("ip", ["netns", "exec", netns, "cat", "/proc/sys/net/ipv4/ip_forward"], {
          encoding: "utf8",
        });
        expect(forward.stdout.trim()).toBe("0");
        expect(existsSync(join(dirs, "net.d", "10-aks-ipvlan.conflist"))).toBe(false);
      } finally {
        spawnSync("ip", ["netns", "del", netns]);
      }
    },
  );
});

/** Runs a module script in a new mount namespace (its mounts vanish with it); returns its JSON output. */
function inPrivateMounts(script: string): unknown {
  const result = spawnSync(
    "unshare",
    ["-m", "--propagation", "private", process.execPath, "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

describe("full and read-only file systems (a private mount namespace)", () => {
  /** Runs `node MAIN args` in a new mount namespace after mounting `mount` (argv of mount(8)) on `dir`. */
  function inMountNamespace(mountArgs: string[], args: string[]) {
    const script = [
      `const { spawnSync } = await import("node:child_process");`,
      `const mounted = spawnSync("mount", ${JSON.stringify(mountArgs)}, { stdio: "inherit" });`,
      `if (mounted.status !== 0) process.exit(99);`,
      `const run = spawnSync(process.execPath, ${JSON.stringify([MAIN, ...args])}, { encoding: "utf8" });`,
      `process.stdout.write(JSON.stringify({ code: run.status, stdout: run.stdout, stderr: run.stderr }));`,
    ].join("\n");
    return inPrivateMounts(script) as { code: number; stdout: string; stderr: string };
  }

  it("render --out into a read-only directory: exit 1 (runtime), the cause, the earlier render intact", () => {
    const parent = join(scratch, "ro");
    mkdirSync(parent);
    const out = join(parent, "rendered");
    expect(cli(["render", "--config", join(ROOT, "examples/five-nodes.yaml"), "--out", out]).code).toBe(0);
    const before = readdirSync(join(out, "nodes")).sort();
    const result = inMountNamespace(
      ["--bind", "-o", "ro", parent, parent],
      ["render", "--config", SEED, "--out", out],
    );
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^error: --out \S+: cannot write there: EROFS/);
    expect(result.stderr).toContain("fix: use a writable directory");
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(readdirSync(join(out, "nodes")).sort()).toEqual(before);
  });

  it("render --out a mount point: exit 1 with the real cause (EBUSY), not the rollback's", () => {
    const out = join(scratch, "mountpoint");
    mkdirSync(out);
    const result = inMountNamespace(
      ["-t", "tmpfs", "-o", "size=1m", "tmpfs", out],
      ["render", "--config", SEED, "--out", out],
    );
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^error: --out \S+: cannot write there: EBUSY/);
    expect(result.stderr).toContain("fix: a mount point cannot be replaced");
    expect(result.stderr).not.toMatch(/ENOENT/);
  });

  it("render --out onto a full file system: exit 1 (runtime), the earlier render intact, no temp left", () => {
    const parent = join(scratch, "full");
    mkdirSync(parent);
    const script = [
      `const { spawnSync } = await import("node:child_process");`,
      `const { writeFileSync } = await import("node:fs");`,
      `spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", ${JSON.stringify(parent)}]);`,
      `const render = (config) => spawnSync(process.execPath, [${JSON.stringify(MAIN)}, "render", "--config", config, "--out", ${JSON.stringify(join(parent, "out"))}], { encoding: "utf8" });`,
      `const first = render(${JSON.stringify(SEED)});`,
      // Fill what is left, then render a larger tree.
      `try { writeFileSync(${JSON.stringify(join(parent, "filler"))}, Buffer.alloc(1 << 20)); } catch {}`,
      `const second = render(${JSON.stringify(join(ROOT, "examples/large.yaml"))});`,
      `const { readdirSync, readFileSync } = await import("node:fs");`,
      `process.stdout.write(JSON.stringify({ first: first.status, second: second.status, stderr: second.stderr,`,
      `  entries: readdirSync(${JSON.stringify(parent)}).sort(),`,
      `  nodes: readdirSync(${JSON.stringify(join(parent, "out/nodes"))}).sort(),`,
      `  conflist: readFileSync(${JSON.stringify(join(parent, "out/nodes/node1/10-aks-ipvlan.conflist"))}, "utf8") }));`,
    ].join("\n");
    const report = inPrivateMounts(script) as {
      first: number;
      second: number;
      stderr: string;
      entries: string[];
      nodes: string[];
      conflist: string;
    };
    expect(report.first).toBe(0);
    expect(report.second).toBe(1);
    expect(report.stderr).toMatch(/ENOSPC/);
    expect(report.stderr).toContain("fix: free space on that file system");
    expect(report.stderr).not.toMatch(STACK_FRAME);
    expect(report.entries).toEqual(["filler", "out"]);
    expect(report.nodes).toEqual(["node1", "node2", "node3"]);
    expect(() => JSON.parse(report.conflist)).not.toThrow();
  });
});

describe("render --out: concurrent renders, killed renders", () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("close", (code) => resolve({ code, stderr }));
    });

  it("eight renders into one --out at once all succeed, and leave one whole render", async () => {
    const out = join(scratch, "concurrent", "out");
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        run(["render", "--config", i % 2 ? SEED : join(ROOT, "examples/five-nodes.yaml"), "--out", out]),
      ),
    );
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(join(scratch, "concurrent"))).toEqual(["out"]);
    const listed = readFileSync(join(out, ".aks-ipvlan-rendered"), "utf8").trim().split("\n");
    for (const path of listed) expect(existsSync(join(out, path)), path).toBe(true);
  });

  it("a later render removes the temporary tree a killed render left", () => {
    const parent = join(scratch, "killed");
    mkdirSync(join(parent, ".out.new-12345-abcdef", "nodes"), { recursive: true });
    writeFileSync(join(parent, ".out.new-12345-abcdef", "nodes", "x"), "half");
    mkdirSync(join(parent, ".out.new-12345-abcdef.old"));
    expect(cli(["render", "--config", SEED, "--out", join(parent, "out")]).code).toBe(0);
    expect(readdirSync(parent)).toEqual(["out"]);
  });
});

/**
 * Inputs that used to hang: each command runs with a deadline far above its own bound (10 s for a
 * pipe, 30 s for an API request) and fails the test if it is still running then.
 */
describe("hangs are bounded: every read and request ends, with one error line", () => {
  const DEADLINE_MS = 150_000;

  function runWithDeadline(args: string[]) {
    return new Promise<{ code: number | null; stdout: string; stderr: string; stillRunning: boolean }>(
      (resolve) => {
        const child = spawn(process.execPath, [MAIN, ...args], {
          cwd: ROOT,
          env: { ...process.env, NO_COLOR: "1" },
        });
        let stdout = "";
        let stderr = "";
        let stillRunning = false;
        const timer = setTimeout(() => {
          stillRunning = true;
          child.kill("SIGKILL");
        }, DEADLINE_MS);
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr, stillRunning });
        });
      },
    );
  }

  function kubeconfigFor(name: string, port: number): string {
    return specFile(
      name,
      [
        `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: x, context: {cluster: c, user: u}}]",
        "current-context: x",
      ].join("\n"),
    );
  }

  /** A FIFO with a writer that holds it open and never writes (nor closes) while `work` runs. */
  async function withSilentFifo<T>(name: string, work: (path: string) => Promise<T>): Promise<T> {
    const path = join(scratch, name);
    expect(spawnSync("mkfifo", [path]).status).toBe(0);
    const writer = spawn("sh", ["-c", 'exec 3>"$1"; sleep 600', "sh", path], { stdio: "ignore" });
    try {
      return await work(path);
    } finally {
      writer.kill("SIGKILL");
    }
  }

  it(
    "a FIFO as --config, as --kubeconfig and as a lint target",
    async () => {
      const [spec, kube, lint] = await Promise.all([
        withSilentFifo("spec.fifo", (path) => runWithDeadline(["plan", "--config", path])),
        withSilentFifo("kube.fifo", (path) => runWithDeadline(["doctor", "--kubeconfig", path])),
        withSilentFifo("10-x.conflist", (path) => runWithDeadline(["lint", path])),
      ]);
      for (const result of [spec, kube, lint]) expect(result.stillRunning, result.stderr).toBe(false);
      expect(spec.code, spec.stderr).toBe(2);
      expect(spec.stderr).toMatch(/--config: cannot read the spec file: .*a pipe that sent no end of file/);
      expect(kube.code, kube.stderr).toBe(2);
      expect(kube.stderr).toMatch(/--kubeconfig: cannot read the kubeconfig: .*a pipe/);
      expect(lint.code, lint.stdout).toBe(1);
      expect(lint.stdout).toMatch(/cannot read: .*a pipe that sent no end of file/);
      for (const result of [spec, kube, lint]) expect(result.stderr).not.toMatch(STACK_FRAME);
    },
    DEADLINE_MS + 30_000,
  );

  it(
    "an API server that accepts TCP and never answers: doctor and install --dry-run exit 3",
    async () => {
      const sockets: import("node:net").Socket[] = [];
      const server = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      const kubeconfig = kubeconfigFor("silent-kubeconfig", port);
      try {
        const results = await Promise.all([
          runWithDeadline(["doctor", "--kubeconfig", kubeconfig]),
          runWithDeadline(["install", "--dry-run", "--config", SEED, "--kubeconfig", kubeconfig]),
        ]);
        expect(sockets.length).toBeGreaterThan(0);
        for (const result of results) {
          expect(result.stillRunning, result.stderr).toBe(false);
          expect(result.code, result.stderr).toBe(3);
          expect(result.stderr).toMatch(/did not answer within 30 s/);
          expect(result.stderr).not.toMatch(STACK_FRAME);
        }
      } finally {
        for (const socket of sockets) socket.destroy();
        server.close();
      }
    },
    DEADLINE_MS + 30_000,
  );

  it(
    "an API server that answers with an endless body: doctor and install --dry-run exit 3 at the bound",
    async () => {
      const CHUNK = Buffer.alloc(1024 * 1024, " ");
      const sentPerConnection: number[] = [];
      const server = createServer((socket) => {
        const connection = sentPerConnection.push(0) - 1;
        socket.on("error", () => undefined);
        socket.once("data", () => {
          socket.write(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + '{"kind":"',
          );
          // Written as fast as the client reads, until it hangs up: a body with no end.
          const more = () => {
            while (!socket.destroyed) {
              sentPerConnection[connection]! += CHUNK.length;
              if (!socket.write(CHUNK)) return;
            }
          };
          socket.on("drain", more);
          more();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const kubeconfig = kubeconfigFor("endless-kubeconfig", (server.address() as AddressInfo).port);
      try {
        const results = await Promise.all([
          runWithDeadline(["doctor", "--kubeconfig", kubeconfig]),
          runWithDeadline(["install", "--dry-run", "--config", SEED, "--kubeconfig", kubeconfig]),
        ]);
        for (const result of results) {
          expect(result.stillRunning, result.stderr).toBe(false);
          expect(result.code, result.stderr).toBe(3);
          expect(result.stderr).toMatch(/sent an answer larger than 134217728 bytes/);
          expect(result.stderr).not.toMatch(STACK_FRAME);
        }
        // Each command was sent more than the bound before it hung up.
        const pastBound = sentPerConnection.filter((sent) => sent > 128 * 1024 * 1024);
        expect(pastBound.length).toBeGreaterThanOrEqual(2);
      } finally {
        server.close();
      }
    },
    DEADLINE_MS + 30_000,
  );

  it("a full stdout (> /dev/full): one error line, exit 1, for plan, render and lint", () => {
    for (const args of [
      ["plan", "--config", SEED],
      ["render", "--config", SEED],
      ["lint", join(ROOT, "test/fixtures/lint/seed-original.conflist")],
    ]) {
      const script = `const { spawnSync } = await import("node:child_process"); const { openSync } = await import("node:fs");
        const run = spawnSync(process.execPath, ${JSON.stringify([MAIN])}.concat(${JSON.stringify(args)}), { stdio: ["ignore", openSync("/dev/full", "w"), "pipe"], encoding: "utf8" });
        process.stdout.write(JSON.stringify({ code: run.status, stderr: run.stderr }));`;
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
      const result = JSON.parse(run.stdout) as { code: number; stderr: string };
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/^error: cannot write the output: ENOSPC/);
      expect(result.stderr).not.toMatch(STACK_FRAME);
    }
  });

  it("agent --once with its lock under /proc: the cause in its summary, exit 1, no crash", () => {
    for (let round = 0; round < 5; round++) {
      const result = cli([
        "agent",
        "--once",
        "--node",
        "node1",
        "--config",
        SEED,
        "--cni-conf-dir",
        join(scratch, `lock-${round}`, "net.d"),
        "--ipam-data-dir",
        "/proc/self/ipam",
      ]);
      expect(result.code, result.stderr).toBe(1);
      expect(JSON.parse(result.stdout).error).toMatch(/cannot lock \/proc\/self\/agent\.lock/);
      expect(result.stderr).not.toMatch(STACK_FRAME);
    }
  });
});
