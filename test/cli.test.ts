// The CLI as users run it: a child process, its exit code, stdout, stderr and the files it leaves.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDirSync } from "./fakes/temp-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = join(ROOT, "src/cli/main.ts");
const scratch = tempDirSync("aks-ipvlan-cli-");

function cli(args: string[], entry = MAIN) {
  const result = spawnSync(process.execPath, [entry, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function badSpec(text: string): string {
  const file = join(scratch, `bad-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

function expectUserError(result: ReturnType<typeof cli>, path: string) {
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(`${path}:`);
  expect(result.stderr).toContain("fix:");
  expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
}

describe("aks-ipvlan plan", () => {
  it("prints the seed's blocks, capacity, the warning and the route-table entries", () => {
    const result = cli(["plan", "--config", "examples/seed.yaml"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /node1\s+10\.224\.0\.4\s+10\.224\.0\.16\/28\s+10\.224\.0\.16\s+10\.224\.0\.31\s+16/,
    );
    expect(result.stdout).toMatch(/node2\s+10\.224\.0\.5\s+10\.224\.0\.32\/28/);
    expect(result.stdout).toMatch(/node3\s+10\.224\.0\.6\s+10\.224\.0\.48\/28/);
    expect(result.stdout).toContain("warning podPool[0]");
    expect(result.stdout).toMatch(
      /aks-ipvlan-aks-10-224-0-16-28\s+10\.224\.0\.16\/28\s+VirtualAppliance\s+10\.224\.0\.4/,
    );
    expect(result.stdout).not.toContain("\u001b["); // no colour when not a terminal
  });

  it.each(["json", "yaml"])("prints the plan as %s", (format) => {
    const result = cli(["plan", "--config", "examples/five-nodes.yaml", "-o", format]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("10.240.0.32/27");
  });

  it.each(readdirSync(join(ROOT, "examples")).filter((name) => name.endsWith(".yaml")))(
    "plans examples/%s without errors",
    (name) => {
      expect(cli(["plan", "--config", `examples/${name}`, "-o", "json"]).code).toBe(0);
    },
  );

  it("reports every problem of a bad spec with path and fix, exit 2", () => {
    const result = cli(["plan", "--config", badSpec("nodeSubnet: 10.224.0.1/16\nmode: l2\n")]);
    expectUserError(result, "nodeSubnet");
    expect(result.stderr).toContain("mode:");
  });

  it.each([
    ["invalid YAML", "nodeSubnet: [10.224.0.0/16\n", ".yaml"],
    ["a missing nodeSubnet", "blockSize: 28\n", "nodeSubnet"],
    [
      "a node IP outside the node subnet",
      "nodeSubnet: 10.224.0.0/16\nnodes: [{name: a, ip: 10.225.0.4}]\n",
      "nodes[0].ip",
    ],
    [
      "a duplicate node name",
      "nodeSubnet: 10.224.0.0/16\nnodes: [{name: a, ip: 10.224.0.4}, {name: a, ip: 10.224.0.5}]\n",
      "nodes[1].name",
    ],
    ["an unknown field", "nodeSubnet: 10.224.0.0/16\npodPools: []\n", "<root>"],
    [
      "a pin over a node IP",
      "nodeSubnet: 10.224.0.0/16\nnodes: [{name: a, ip: 10.224.0.20, block: 10.224.0.16/28}]\n",
      "nodes[0].block",
    ],
    [
      "two nodes pinning one block",
      "nodeSubnet: 10.224.0.0/16\nnodes: [{name: a, ip: 10.224.0.4, block: 10.224.0.16/28}, {name: b, ip: 10.224.0.5, block: 10.224.0.16/28}]\n",
      "nodes[1].block",
    ],
    [
      "a block smaller than maxPodsPerNode",
      "nodeSubnet: 10.224.0.0/16\nmaxPodsPerNode: 110\n",
      "maxPodsPerNode",
    ],
    [
      "a pod pool straddling the node subnet",
      "nodeSubnet: 10.224.0.0/16\npodPool: [10.0.0.0/8]\nserviceCidr: 172.20.0.0/16\n",
      "podPool[0]",
    ],
  ])("reports %s with its path and fix, exit 2", (_name, text, path) => {
    expectUserError(cli(["plan", "--config", badSpec(text)]), path);
  });

  it("reports an exhausted pool, exit 2", () => {
    const nodes = ["a", "b", "c"].map((name, i) => `  - {name: ${name}, ip: 10.224.0.${4 + i}}`).join("\n");
    expectUserError(
      cli(["plan", "--config", badSpec(`nodeSubnet: 10.224.0.0/26\nmaxPodsPerNode: 16\nnodes:\n${nodes}\n`)]),
      "nodes[2]",
    );
  });

  it.each([
    [["plan"], "required option"],
    [["plan", "--config", "examples/seed.yaml", "-o", "xml"], "--output"],
    [["plan", "--config", "/nonexistent.yaml"], "--config"],
    [["frobnicate"], "unknown command"],
  ])("exits 2 on bad usage: %j", (args, text) => {
    const result = cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(text);
  });

  it("runs through a symlink, as from node_modules/.bin", () => {
    const link = join(scratch, "aks-ipvlan");
    symlinkSync(MAIN, link);
    const result = cli(["plan", "--config", join(ROOT, "examples/seed.yaml")], link);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("10.224.0.16/28");
  });
});

describe("the built CLI", () => {
  it("runs from the tsc output, as the package's bin", { timeout: 180_000 }, () => {
    const build = join(scratch, "build");
    const tsc = spawnSync(
      process.execPath,
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        "-p",
        "tsconfig.build.json",
        "--outDir",
        join(build, "dist"),
      ],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    symlinkSync(join(ROOT, "node_modules"), join(build, "node_modules"));
    const result = cli(
      ["plan", "--config", join(ROOT, "examples/seed.yaml")],
      join(build, "dist/cli/main.js"),
    );
    expect(result.stderr + tsc.stdout).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("10.224.0.48/28");
  });
});

describe("--listen of the agent and the controller", () => {
  it.each([
    ["agent", ":9464"],
    ["agent", "localhost:9464"],
    ["controller", "127.0.0.1:99999"],
    ["controller", ":9465"],
  ])("%s refuses --listen %s before it reads anything (exit 2)", (command, listen) => {
    const missing = join(scratch, "no-such-spec.yaml");
    const result = cli([command, "--config", missing, "--node", "node1", "--listen", listen]);
    expectUserError(result, "--listen");
    expect(result.stderr).toContain(`(got ${JSON.stringify(listen)})`);
    expect(result.stderr).toContain("fix: write a.b.c.d:port");
    expect(result.stderr).not.toContain("no-such-spec");
  });
});

describe("aks-ipvlan render", () => {
  it("writes the manifests and each node's files into --out", () => {
    const out = join(scratch, "render-all");
    const result = cli(["render", "--config", "examples/seed.yaml", "--out", out]);
    expect(result.code).toBe(0);
    expect(readdirSync(join(out, "nodes")).sort()).toEqual(["node1", "node2", "node3"]);
    expect(readFileSync(join(out, "nodes/node2/10-aks-ipvlan.conflist"), "utf8")).toBe(
      readFileSync(join(ROOT, "test/fixtures/golden/seed-node2.conflist"), "utf8"),
    );
    expect(readFileSync(join(out, "nodes/node2/rules.iptables"), "utf8")).toContain(
      readFileSync(join(ROOT, "test/fixtures/golden/seed-node2.rules"), "utf8"),
    );
    expect(readFileSync(join(out, "manifests.yaml"), "utf8")).toContain("kind: DaemonSet");
    // Rendering again into the existing directory replaces the files and leaves no temp directory.
    expect(cli(["render", "--config", "examples/seed.yaml", "--out", out]).code).toBe(0);
    expect(readdirSync(scratch).filter((name) => name.includes(".tmp-"))).toEqual([]);
  });

  it("prints one node's files without --out", () => {
    const result = cli(["render", "--config", "examples/seed.yaml", "--node", "node3"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("### nodes/node3/10-aks-ipvlan.conflist");
    expect(result.stdout).toContain('"rangeStart": "10.224.0.48"');
    expect(result.stdout).not.toContain("node1");
    expect(result.stdout).not.toContain("manifests.yaml");
  });

  it("renders the seed's two files with --seed-compatible", () => {
    const out = join(scratch, "seed-files");
    expect(cli(["render", "--config", "examples/seed.yaml", "--seed-compatible", "--out", out]).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      ".aks-ipvlan-rendered",
      "ipv4-config-egress.yaml",
      "ipv4-enable-masquerade.yaml",
    ]);
  });

  it.each([
    ["a bad spec", ["--config", "BAD"], "nodeSubnet"],
    ["an unknown node", ["--config", "examples/seed.yaml", "--node", "node9"], "--node"],
  ])("writes nothing on %s, exit 2", (_name, args, path) => {
    const out = join(scratch, `nothing-${path.replace(/\W/g, "")}`);
    const resolved = args.map((arg) => (arg === "BAD" ? badSpec("nodeSubnet: nope\n") : arg));
    expectUserError(cli(["render", ...resolved, "--out", out]), path);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(scratch).filter((name) => name.startsWith(".nothing"))).toEqual([]);
  });
});

describe("aks-ipvlan lint", () => {
  it("passes what render writes (exit 0)", () => {
    const out = join(scratch, "render-lint");
    expect(cli(["render", "--config", "examples/seed.yaml", "--out", out]).code).toBe(0);
    const result = cli([
      "lint",
      "--config",
      "examples/seed.yaml",
      join(out, "nodes/node1"),
      join(out, "nodes/node2/10-aks-ipvlan.conflist"),
    ]);
    expect(result.stdout).toContain("10-aks-ipvlan.conflist: ok");
    expect(result.code).toBe(0);
  });

  it("fails the seed's original config with the default-route fix (exit 1)", () => {
    const result = cli(["lint", "test/fixtures/lint/seed-original.conflist"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("error plugins[0].ipam.routes: no default route");
    expect(result.stdout).toContain('fix: set "routes": [{"dst": "0.0.0.0/0"}]');
  });

  it("exits 0 when there are only warnings", () => {
    const file = join(scratch, "warn.conflist");
    const config = JSON.parse(readFileSync(join(ROOT, "test/fixtures/golden/seed-node1.conflist"), "utf8"));
    config.plugins.pop();
    writeFileSync(file, JSON.stringify(config));
    const result = cli(["lint", file]);
    expect(result.stdout).toContain("warning plugins: no portmap plugin");
    expect(result.code).toBe(0);
  });

  it.each([
    [["lint"]],
    [["lint", "/nonexistent.conflist"]],
    [["lint", "--config", "/nonexistent.yaml", "test/fixtures/lint/invalid.conflist"]],
  ])("exits 2 on bad usage: %j", (args) => {
    expect(cli(args).code).toBe(2);
  });
});
