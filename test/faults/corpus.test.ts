// The bad-input corpus, run in-process through main(argv) (a process per case would cost ~0.5 s each):
// every case must exit with its documented code, name its field, print no stack trace and write
// nothing. test/faults/process.test.ts repeats a sample as real processes.
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.ts";
import { tempDirSync } from "../fakes/temp-dir.ts";
import { LINT_CASES, SPEC_CASES, SPEC_FILE, conflistWith } from "./cases.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SEED = join(ROOT, "examples/seed.yaml");
const scratch = tempDirSync("aks-ipvlan-faults-");
let serial = 0;
const counts = new Map<string, number>();

/** A stack frame as Node prints it. */
const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    process.exitCode = undefined;
    const code = await main(["node", "aks-ipvlan", ...argv]);
    return { code, stdout, stderr };
  } finally {
    process.exitCode = undefined;
    out.mockRestore();
    err.mockRestore();
  }
}

function file(name: string, text: string): string {
  const path = join(scratch, `${serial++}-${name}`);
  writeFileSync(path, text);
  return path;
}

function count(kind: string): void {
  counts.set(kind, (counts.get(kind) ?? 0) + 1);
}

function expectRefused(
  result: { code: number; stdout: string; stderr: string },
  code: number,
  field: string,
) {
  const output = result.stdout + result.stderr;
  expect(result.code, output).toBe(code);
  expect(output).toContain(`${field}:`);
  expect(output).toContain("fix:");
  expect(output).not.toMatch(STACK_FRAME);
}

afterAll(() => {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(
    `bad-input corpus: ${total} cases in ${counts.size} kinds: ${[...counts].map(([k, n]) => `${k} ${n}`).join(", ")}`,
  );
});

describe("bad specs: plan, render --out and agent --once refuse each with exit 2, naming the field", () => {
  it.each(SPEC_CASES.map((c) => [c.kind, c.name, c]))("%s: %s", async (kind, _name, c) => {
    const spec = file("spec.yaml", c.spec);
    const field = c.field === SPEC_FILE ? spec : c.field;

    expectRefused(await run(["plan", "--config", spec]), 2, field);
    count(`${kind} (plan)`);

    const out = join(scratch, `${serial++}-out`);
    expectRefused(await run(["render", "--config", spec, "--out", out]), 2, field);
    expect(existsSync(out), "render wrote nothing").toBe(false);
    count(`${kind} (render)`);

    const node = join(scratch, `${serial++}-node`);
    const agent = await run([
      "agent",
      "--once",
      "--node",
      "node1",
      "--config",
      spec,
      "--cni-conf-dir",
      join(node, "net.d"),
      "--ipam-data-dir",
      join(node, "run/ipam"),
    ]);
    expectRefused(agent, 2, field);
    expect(existsSync(node), "the agent touched nothing").toBe(false);
    count(`${kind} (agent)`);
  });
});

describe("bad CNI configs: lint finds each as an error (exit 1) at its path", () => {
  it.each(LINT_CASES.map((c) => [c.kind, c.name, c]))("%s: %s", async (kind, _name, c) => {
    const dir = join(scratch, `${serial++}-netd`);
    mkdirSync(dir);
    writeFileSync(join(dir, c.file), c.text);
    const result = await run(["lint", join(dir, c.file)]);
    expect(result.code, result.stdout).toBe(1);
    expect(result.stdout).toContain(`error ${c.field || "<root>"}:`);
    expect(result.stdout + result.stderr).not.toMatch(STACK_FRAME);
    count(`lint: ${kind}`);
  });
});

/** Cases about the command line and the files around it, each with the exit code and field expected. */
interface CommandCase {
  argv: string[];
  env?: Record<string, string>;
  code: number;
  field: string;
  before?: () => Promise<void>;
  after?: () => void;
}

const COMMAND_CASES: Array<[string, () => CommandCase]> = [
  ["an unknown command", () => ({ argv: ["frobnicate"], code: 2, field: "error" })],
  ["plan without --config", () => ({ argv: ["plan"], code: 2, field: "error" })],
  [
    "an unknown output format",
    () => ({ argv: ["plan", "--config", SEED, "-o", "xml"], code: 2, field: "--output" }),
  ],
  [
    "a missing spec file",
    () => ({ argv: ["plan", "--config", "/nonexistent.yaml"], code: 2, field: "--config" }),
  ],
  ["a directory as the spec", () => ({ argv: ["plan", "--config", scratch], code: 2, field: "--config" })],
  ["an endless spec file", () => ({ argv: ["plan", "--config", "/dev/zero"], code: 2, field: "/dev/zero" })],
  [
    "render of an unknown node",
    () => ({ argv: ["render", "--config", SEED, "--node", "node9"], code: 2, field: "--node" }),
  ],
  [
    "render --out below a file",
    () => {
      const parent = file("plain", "x");
      return { argv: ["render", "--config", SEED, "--out", join(parent, "out")], code: 2, field: "--out" };
    },
  ],
  [
    "render --out a dangling symlink",
    () => {
      const link = join(scratch, `${serial++}-dangling`);
      symlinkSync(join(scratch, "nowhere"), link);
      return { argv: ["render", "--config", SEED, "--out", link], code: 2, field: "--out" };
    },
  ],
  [
    "render --out an existing file",
    () => ({ argv: ["render", "--config", SEED, "--out", file("plain", "keep")], code: 2, field: "--out" }),
  ],
  [
    "render --out a directory of other files",
    () => {
      const dir = join(scratch, `${serial++}-mine`);
      mkdirSync(dir);
      writeFileSync(join(dir, "notes.txt"), "mine");
      return {
        argv: ["render", "--config", SEED, "--out", dir],
        code: 2,
        field: "--out",
        after: () => expect(readdirSync(dir)).toEqual(["notes.txt"]),
      };
    },
  ],
  ...(
    [
      ["only the user's own manifests.yaml", { "manifests.yaml": "mine" }],
      ["only a nodes/ folder of the user's", { "nodes/x.txt": "mine" }],
    ] as const
  ).map(([name, tree]): [string, () => CommandCase] => [
    `render --out a directory holding ${name}`,
    () => {
      const dir = join(scratch, `${serial++}-users`);
      for (const [path, text] of Object.entries(tree)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      return {
        argv: ["render", "--config", SEED, "--out", dir],
        code: 2,
        field: "--out",
        after: () => {
          for (const [path, text] of Object.entries(tree))
            expect(readFileSync(join(dir, path), "utf8")).toBe(text);
        },
      };
    },
  ]),
  [
    "render --out an earlier render with a user's file inside nodes/node1/",
    () => {
      const dir = join(scratch, `${serial++}-rendered`);
      return {
        argv: ["render", "--config", SEED, "--out", dir],
        code: 2,
        field: "--out",
        before: async () => {
          expect((await run(["render", "--config", SEED, "--out", dir])).code).toBe(0);
          writeFileSync(join(dir, "nodes/node1/notes.txt"), "mine");
        },
        after: () => expect(readFileSync(join(dir, "nodes/node1/notes.txt"), "utf8")).toBe("mine"),
      };
    },
  ],
  ["render --out ''", () => ({ argv: ["render", "--config", SEED, "--out", ""], code: 2, field: "--out" })],
  ["lint without paths", () => ({ argv: ["lint"], code: 2, field: "error" })],
  ["lint of a missing path", () => ({ argv: ["lint", "/nonexistent.conflist"], code: 2, field: "PATH" })],
  [
    "lint of a directory without configs",
    () => {
      const dir = join(scratch, `${serial++}-empty`);
      mkdirSync(dir);
      return { argv: ["lint", dir], code: 2, field: "PATH" };
    },
  ],
  [
    "lint --config with a bad spec",
    () => ({
      argv: [
        "lint",
        "--config",
        file("spec.yaml", "nodeSubnet: 0.0.0.0/0\n"),
        file("x.conflist", conflistWith()),
      ],
      code: 2,
      field: "nodeSubnet",
    }),
  ],
  [
    "lint of a directory where another config shadows ours",
    () => {
      const dir = join(scratch, `${serial++}-netd`);
      mkdirSync(dir);
      writeFileSync(join(dir, "05-other.conflist"), conflistWith());
      writeFileSync(join(dir, "10-aks-ipvlan.conflist"), conflistWith());
      return { argv: ["lint", dir], code: 1, field: "<root>" };
    },
  ],
  [
    "lint of a directory with a dangling config link",
    () => {
      const dir = join(scratch, `${serial++}-netd`);
      mkdirSync(dir);
      symlinkSync(join(dir, "gone"), join(dir, "00-gone.conf"));
      writeFileSync(join(dir, "10-aks-ipvlan.conflist"), conflistWith());
      return { argv: ["lint", dir], code: 1, field: "<root>" };
    },
  ],
  [
    "agent without --config",
    () => ({ argv: ["agent", "--once", "--node", "node1"], code: 2, field: "--config" }),
  ],
  [
    "agent without a node name",
    () => ({ argv: ["agent", "--once", "--config", SEED], code: 2, field: "--node" }),
  ],
  [
    "agent with a bad --resync",
    () => ({
      argv: ["agent", "--once", "--node", "n", "--config", SEED, "--resync", "0"],
      code: 2,
      field: "--resync",
    }),
  ],
  ...["1e7", "0.0001", "3601", "2.5", "-1", "NaN"].map((value): [string, () => CommandCase] => [
    `agent --resync ${value}`,
    () => ({
      argv: ["agent", "--once", "--node", "n", "--config", SEED, "--resync", value],
      code: 2,
      field: "--resync",
    }),
  ]),
  [
    "agent --once --cleanup together",
    () => ({ argv: ["agent", "--once", "--cleanup", "--node", "n"], code: 2, field: "--cleanup" }),
  ],
  ...(
    [
      ["--parallel", "0"],
      ["--parallel", "65"],
      ["--junit", "/proc/nope/x.xml"],
      ["--junit", ""],
      ["--image-busybox", "../x"],
      ["--image-nginx", "localhost:99999/nginx"],
      ["--echo-url", "ftp://example.com/"],
      ["--timeout", "1e7"],
      ["--policy-settle", "0"],
    ] as const
  ).map(([flag, value]): [string, () => CommandCase] => [
    `verify ${flag} ${JSON.stringify(value)}, checked before any connection`,
    () => ({
      // A kubeconfig whose server would hang: the flag must be refused before it is opened.
      argv: ["verify", "--kubeconfig", "/nonexistent/kubeconfig", flag, value],
      code: 2,
      field: flag,
    }),
  ]),
  ...(
    [
      ["no kubeconfig at all", []],
      ["a missing kubeconfig", ["--kubeconfig", "/nonexistent/kubeconfig"]],
      ["a directory as the kubeconfig", ["--kubeconfig", "/tmp"]],
      ["/dev/zero as the kubeconfig", ["--kubeconfig", "/dev/zero"]],
    ] as const
  ).map(([name, args]): [string, () => CommandCase] => [
    `doctor with ${name}: exit 2, no fallback to localhost:8080`,
    () => ({
      argv: ["doctor", ...args],
      code: 2,
      field: "--kubeconfig",
      env: { KUBECONFIG: "", HOME: "/nonexistent" },
    }),
  ]),
  ...(
    [
      ["bad YAML", "clusters: [\n"],
      [
        "an ftp:// server",
        "clusters: [{name: c, cluster: {server: 'ftp://example.com'}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
      ],
      ["no current context", "clusters: []\n"],
    ] as const
  ).map(([name, text]): [string, () => CommandCase] => [
    `doctor with a kubeconfig of ${name}: exit 2`,
    () => ({ argv: ["doctor", "--kubeconfig", file("kubeconfig", text)], code: 2, field: "--kubeconfig" }),
  ]),
  [
    "agent with a missing spec",
    () => ({
      argv: ["agent", "--once", "--node", "n", "--config", "/nonexistent.yaml"],
      code: 2,
      field: "--config",
    }),
  ],
];

describe("bad command lines and paths: exit code, field, no stack trace, nothing written", () => {
  it.each(COMMAND_CASES)("%s", async (_name, build) => {
    const { argv, code, field, env, before, after } = build();
    await before?.();
    const saved = Object.fromEntries(Object.keys(env ?? {}).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    const result = await run(argv).finally(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
    const output = result.stdout + result.stderr;
    expect(result.code, output).toBe(code);
    expect(output).toContain(field);
    expect(output).not.toMatch(STACK_FRAME);
    after?.();
    count("command line and paths");
  });
});

describe("values are rendered in their canonical form only", () => {
  it.each([
    [
      'nonMasqueradeCIDRs: ["10.0.0.0/8\\n"]',
      'masquerade: {nonMasqueradeCIDRs: ["10.0.0.0/8\\n"]}',
      '-d 10.0.0.0/8 -m comment --comment "aks-ipvlan: no masquerade" -j RETURN',
    ],
    ["a pod pool with spaces", 'podPool: [" 10.241.0.0/16 "]', "10.241.0.0/16"],
    [
      "a node IP with a newline",
      'nodes: [{name: node1, ip: "10.224.0.4\\n"}]',
      '"rangeStart": "10.224.0.16"',
    ],
    ["a listen address with spaces", 'agent: {listenAddress: " 127.0.0.1:9464 "}', "port: 9464"],
    [
      "an empty non-masquerade list keeps pod to pod unmasqueraded",
      "masquerade: {nonMasqueradeCIDRs: []}",
      '-d 10.224.0.0/16 -m comment --comment "aks-ipvlan: no masquerade" -j RETURN',
    ],
    [
      "a list without the pool gets the pool added",
      "podPool: [10.241.0.0/16]\nmasquerade: {nonMasqueradeCIDRs: [172.16.0.0/12]}",
      '-d 10.241.0.0/16 -m comment --comment "aks-ipvlan: no masquerade" -j RETURN',
    ],
  ])("%s", async (_name, yaml, expected) => {
    const spec = file(
      "spec.yaml",
      `nodeSubnet: 10.224.0.0/16\n${yaml.includes("nodes:") ? "" : "nodes: [{name: node1, ip: 10.224.0.4}]\n"}${yaml}\n`,
    );
    const result = await run(["render", "--config", spec]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(expected);
    // The issue's failure: a value split across lines left a masquerade rule without its target.
    expect(result.stdout).not.toMatch(/^-A AKS-IPVLAN-MASQ -d \S+$/m);
    expect(result.stdout).not.toMatch(/^\s*\/\d+/m);
    count("canonical values");
  });
});

describe("negative controls: the policy's edges are accepted", () => {
  it.each([
    ["a /8 node subnet", "nodeSubnet: 10.0.0.0/8\nserviceCidr: 172.20.0.0/16\n"],
    [
      "a public non-masquerade destination with the opt-in",
      "nodeSubnet: 10.224.0.0/16\nmasquerade: {nonMasqueradeCIDRs: [20.0.0.0/8], allowPublicDestinations: true}\n",
    ],
    [
      "an empty non-masquerade list (the node subnet and pool stay in)",
      "nodeSubnet: 10.224.0.0/16\nmasquerade: {nonMasqueradeCIDRs: []}\n",
    ],
    ["a Service CIDR next to the node subnet", "nodeSubnet: 10.224.0.0/16\nserviceCidr: 10.225.0.0/16\n"],
    [
      "a dotted node name",
      "nodeSubnet: 10.224.0.0/16\nnodes: [{name: aks-nodepool1-12345678-vmss000000.internal, ip: 10.224.0.4}]\n",
    ],
    [
      "a registry with a port, a digest and a tag",
      `nodeSubnet: 10.224.0.0/16\nagent: {image: "localhost:5000/a/b:1.0@sha256:${"a".repeat(64)}"}\n`,
    ],
    ["cniVersion 0.4.0", 'nodeSubnet: 10.224.0.0/16\ncniVersion: "0.4.0"\n'],
    [
      "exactly 100 YAML aliases (the documented limit)",
      `nodeSubnet: 10.224.0.0/16\nreserved: [&r 10.224.0.9, ${Array.from({ length: 100 }, () => "*r").join(", ")}]\n`,
    ],
    [
      "CR-only line endings (YAML 1.2 line breaks)",
      "nodeSubnet: 10.224.0.0/16\rnodes: [{name: a, ip: 10.224.0.4}]\r",
    ],
    [
      "a /29 node subnet with a node at .4",
      "nodeSubnet: 10.224.0.0/29\nnodes: [{name: a, ip: 10.224.0.4}]\nblockSize: 30\npodPool: [10.241.0.0/16]\n",
    ],
    [
      "a node at the subnet's last usable address",
      "nodeSubnet: 10.224.0.0/24\nnodes: [{name: a, ip: 10.224.0.254}]\npodPool: [10.241.0.0/16]\n",
    ],
    ["a pool in 172.16.0.0/12", "nodeSubnet: 10.224.0.0/16\npodPool: [172.16.0.0/12]\n"],
    ["a pool in shared address space 100.64.0.0/10", "nodeSubnet: 10.224.0.0/16\npodPool: [100.64.0.0/10]\n"],
    ["a pool next to the wireserver", "nodeSubnet: 10.224.0.0/16\npodPool: [168.63.128.0/24]\n"],
    ["an image without registry", 'nodeSubnet: 10.224.0.0/16\nagent: {image: "aks-ipvlan:dev"}\n'],
  ])("%s", async (_name, yaml) => {
    const result = await run(["plan", "--config", file("spec.yaml", yaml)]);
    expect(result.code, result.stderr).toBe(0);
  });
});
