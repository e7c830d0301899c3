// The layering of src/, checked on every `npm test`: each folder sits in one layer and imports only
// from its own layer or the ones below, and no two folders import each other, directly or round a
// ring. The import graph is read from the source (static and dynamic imports, re-exports); tests are
// left out, as they may reach across layers to set a scene.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

/** Lowest first. README, "Layout", shows the same. */
const LAYERS: Record<string, readonly string[]> = {
  base: ["errors", "sys", "net"],
  core: ["spec", "routes", "ipam"],
  adapters: ["iptables", "noderules", "overlay", "policy", "hostpath", "cni", "manifests", "kube", "azure"],
  programs: ["agent", "controller", "verify", "doctor", "testbed"],
  cli: ["cli"],
};

const SRC = join(import.meta.dirname, "..", "src");

type Edge = { from: string; to: string };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** File-to-file imports inside src/, as paths relative to src/. */
function importEdges(): Edge[] {
  const specifier = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)"(\.{1,2}\/[^"]+)"/g;
  return sourceFiles(SRC).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(specifier)].map((match) => ({
      from: relative(SRC, file),
      to: relative(SRC, normalize(join(dirname(file), match[1]!))),
    })),
  );
}

const folderOf = (path: string) => path.split("/")[0]!;

/** Every import against the layering, every folder without a layer, and every ring of folders. */
function violations(edges: readonly Edge[]): string[] {
  const rank = new Map(Object.values(LAYERS).flatMap((folders, index) => folders.map((f) => [f, index])));
  const problems = new Set<string>();
  const folderEdges = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    const [source, target] = [folderOf(from), folderOf(to)];
    for (const folder of [source, target]) {
      if (!rank.has(folder)) problems.add(`src/${folder} has no layer: add it to LAYERS`);
    }
    if (source === target) continue;
    if ((rank.get(source) ?? 0) < (rank.get(target) ?? 0)) {
      problems.add(`src/${from} imports src/${to}: ${source} may not import the higher layer ${target}`);
    }
    folderEdges.set(source, (folderEdges.get(source) ?? new Set()).add(target));
  }
  for (const ring of rings(folderEdges)) problems.add(`folders import each other: ${ring.join(" -> ")}`);
  return [...problems];
}

/** Rings in the folder graph, each once (depth-first search, a ring closes on the current path). */
function rings(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const found = new Map<string, string[]>();
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      // Written from its alphabetically first folder, so a ring reads the same however it is found.
      const ring = path.slice(at);
      const start = ring.indexOf([...ring].sort()[0]!);
      const rotated = [...ring.slice(start), ...ring.slice(0, start)];
      found.set([...ring].sort().join(","), [...rotated, rotated[0]!]);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return [...found.values()];
}

describe("architecture", () => {
  const edges = importEdges();

  it("reads the import graph of src/", () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ from: "cli/main.ts", to: "cli/commands/plan.ts" });
  });

  it("every import follows the layers, and no folders import each other", () => {
    expect(violations(edges)).toEqual([]);
  });

  it("catches an import of a higher layer, a ring and an unplaced folder (negative controls)", () => {
    expect(violations([...edges, { from: "ipam/planner.ts", to: "cli/output.ts" }])).toEqual(
      expect.arrayContaining([
        "src/ipam/planner.ts imports src/cli/output.ts: ipam may not import the higher layer cli",
        "folders import each other: cli -> ipam -> cli",
      ]),
    );
    // Same layer, so only the ring is wrong (testbed already imports verify).
    expect(violations([...edges, { from: "verify/suite.ts", to: "testbed/job.ts" }])).toEqual([
      "folders import each other: testbed -> verify -> testbed",
    ]);
    expect(violations([...edges, { from: "agent/x.ts", to: "firewall/rules.ts" }])).toEqual([
      "src/firewall has no layer: add it to LAYERS",
    ]);
  });
});
