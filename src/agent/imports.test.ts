// The agent's memory budget (issue 13) rests on what it never loads: @kubernetes/client-node (≈ 60 MB
// of RSS and a second of import) and prom-client. Walks every import the agent's entry can reach,
// static and dynamic (`import("…")`), the way Node would follow them.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

const IMPORT = /(?:^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?from\s+)?|\bimport\(\s*)["']([^"']+)["']/gm;

/** Each external package reached from `entry`, with the chain of files that first reached it. */
function packagesReached(entry: string): Map<string, string[]> {
  const via = new Map<string, string | undefined>();
  const packages = new Map<string, string[]>();
  const chain = (file: string) => {
    const files: string[] = [];
    for (let at: string | undefined = file; at; at = via.get(at)) files.unshift(relative(process.cwd(), at));
    return files;
  };
  const stack: [string, string | undefined][] = [[resolve(entry), undefined]];
  while (stack.length > 0) {
    const [file, from] = stack.pop()!;
    if (via.has(file)) continue;
    via.set(file, from);
    const source = readFileSync(file, "utf8");
    for (const [, specifier] of source.matchAll(IMPORT)) {
      if (specifier!.startsWith(".")) stack.push([resolve(dirname(file), specifier!), file]);
      else if (!specifier!.startsWith("node:") && !packages.has(specifier!))
        packages.set(specifier!, chain(file));
    }
  }
  return packages;
}

describe("the agent's import graph", () => {
  it("never reaches @kubernetes/client-node or prom-client, statically or through import()", () => {
    const reached = packagesReached(resolve(import.meta.dirname, "../cli/commands/agent.ts"));
    expect([...reached.keys()].sort()).toEqual(["ipaddr.js", "pino", "yaml", "zod"]);
  });

  it("sees a dynamic import (the check is not blind to import())", () => {
    // The CLI's verify command loads the full client on demand.
    const reached = packagesReached(resolve(import.meta.dirname, "../cli/commands/verify.ts"));
    expect(reached.has("@kubernetes/client-node")).toBe(true);
  });
});
