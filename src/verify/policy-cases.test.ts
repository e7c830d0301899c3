import { describe, expect, it } from "vitest";
import { MODEL_PODS, POLICY_CASES, expectedCells, probeAnswers, probeCommand } from "./policy-cases.ts";
import { placeModel } from "./policy-suite.ts";
import { modelEnv } from "../../test/fixtures/policy-model.ts";

const env = modelEnv((model) => `aks-ipvlan-policy-${model}-abc123`);

/** The cells the evaluator denies, as `from>to:port`. */
const denied = (name: string) =>
  expectedCells(
    POLICY_CASES.find((c) => c.name.includes(name))!,
    env,
  )
    .filter((cell) => !cell.allowed)
    .map((cell) => `${cell.from}>${cell.to}:${cell.port}`)
    .sort();

describe("verify --policies's cases, as upstream expects them", () => {
  it("default-deny ingress: nothing reaches x but each pod itself", () => {
    expect(denied("default-deny-ingress")).toEqual(
      ["x/b>x/a", "y/a>x/a", "y/b>x/a", "x/a>x/b", "y/a>x/b", "y/b>x/b"].map((cell) => `${cell}:80`).sort(),
    );
  });

  it("allow from a namespace: only y reaches x", () => {
    expect(denied("different namespace")).toEqual(["x/a>x/b:80", "x/b>x/a:80"]);
  });

  it("named port: y reaches x on serve-81-tcp only, x reaches nothing of x but itself", () => {
    expect(denied("one named port")).toEqual(
      [
        "x/a>x/b:80",
        "x/a>x/b:81",
        "x/b>x/a:80",
        "x/b>x/a:81",
        "y/a>x/a:80",
        "y/a>x/b:80",
        "y/b>x/a:80",
        "y/b>x/b:80",
      ].sort(),
    );
  });

  it("egress to a CIDR: x/a reaches only y/b; except: everything but y/b", () => {
    expect(denied("access to server in CIDR block")).toEqual(["x/a>x/b:80", "x/a>y/a:80"]);
    expect(denied("except clause")).toEqual(["x/a>y/b:80"]);
  });

  it("probes every pair on each port, and places pairs both on one node and across", () => {
    for (const c of POLICY_CASES) expect(expectedCells(c, env)).toHaveLength(16 * c.ports.length);
    const placement = placeModel([
      { name: "node1", ip: "10.224.0.4" },
      { name: "node2", ip: "10.224.0.5" },
    ]);
    const pairs = MODEL_PODS.flatMap((from) => MODEL_PODS.map((to) => placement[from] === placement[to]));
    expect(pairs.filter(Boolean)).toHaveLength(8);
    expect(() => placeModel([])).toThrow(/no Ready Linux nodes/);
  });
});

describe("the busybox probe", () => {
  const targets = [
    { ip: "10.224.0.18", port: 80 },
    { ip: "10.224.0.33", port: 81 },
  ];

  it("passes the targets as arguments, never inside the script", () => {
    const argv = probeCommand(targets);
    expect(argv.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(argv.slice(3)).toEqual(["probe", "10.224.0.18:80", "10.224.0.33:81"]);
    expect(argv[2]).not.toContain("10.224");
  });

  it("reads one answer per target, and refuses output that is not", () => {
    expect(probeAnswers("x/a", targets, { code: 0, stdout: "1\n0\n", stderr: "" })).toEqual([
      "open",
      "refused",
    ]);
    expect(probeAnswers("x/a", targets, { code: 0, stdout: "-\n1\n", stderr: "" })).toEqual([
      "silent",
      "open",
    ]);
    expect(() => probeAnswers("x/a", targets, { code: 0, stdout: "1\n", stderr: "" })).toThrow(
      /probing from x\/a failed/,
    );
    expect(() => probeAnswers("x/a", targets, { code: 126, stdout: "", stderr: "no sh" })).toThrow(/no sh/);
  });
});
