// Part of bench/agent.ts: what each module the agent could load costs on its own, in a fresh Node
// process per row (the built JavaScript, as in the image): RSS and heap after a forced GC, and the
// time the import took. The options of issue 13 — client-node whole, client-node's deep modules, the
// agent's own client — and the agent's other libraries.
import { join, resolve } from "node:path";
import { z } from "zod";
import { run } from "../../src/sys/exec.ts";

export interface ImportCost {
  label: string;
  rssMb: number;
  heapMb: number;
  ms: number;
}

const CLIENT_NODE = resolve(import.meta.dirname, "../../node_modules/@kubernetes/client-node/dist");

function importRows(dist: string): Array<[string, string[]]> {
  const file = (path: string) => `file://${path}`;
  return [
    ["node alone", []],
    [
      "(a) @kubernetes/client-node (the agent's client until issue 13)",
      [file(join(dist, "kube/client.js")), file(join(dist, "kube/config.js"))],
    ],
    [
      "(b) client-node deep: dist/watch.js + dist/cache.js (informer, no KubeConfig)",
      [file(join(CLIENT_NODE, "watch.js")), file(join(CLIENT_NODE, "cache.js"))],
    ],
    [
      "(b) client-node deep: dist/config.js (KubeConfig, needed for auth/TLS)",
      [file(join(CLIENT_NODE, "config.js"))],
    ],
    [
      "(c) src/kube/rest-client.ts + rest-config.ts (node:https)",
      [file(join(dist, "kube/rest-client.js")), file(join(dist, "kube/rest-config.js"))],
    ],
    ["Node's fetch (undici, loaded on first use)", ["fetch"]],
    ['import … from "node:http" (its namespace loads undici)', ["node:http"]],
    ['process.getBuiltinModule("node:http")', ["builtin:node:http"]],
    ["node:https", ["node:https"]],
    ["pino", [import.meta.resolve("pino")]],
    [
      "src/sys/metrics.ts (the metrics registry, instead of prom-client)",
      [file(join(dist, "sys/metrics.js"))],
    ],
    ["zod", [import.meta.resolve("zod")]],
    ["yaml", [import.meta.resolve("yaml")]],
    ["commander", [import.meta.resolve("commander")]],
    ["src/agent/serve.ts (without --kube)", [file(join(dist, "agent/serve.js"))]],
    [
      "src/cli/main.ts + serve.ts + agent/kube.ts (agent --kube, modules only)",
      [
        file(join(dist, "cli/main.js")),
        file(join(dist, "agent/serve.js")),
        file(join(dist, "agent/kube.js")),
      ],
    ],
  ];
}

const SCRIPT = `
const started = performance.now();
for (const what of process.argv.slice(1)) {
  if (what === "fetch") await fetch("http://127.0.0.1:1/").catch(() => undefined);
  else if (what.startsWith("builtin:")) process.getBuiltinModule(what.slice(8));
  else await import(what);
}
const ms = performance.now() - started;
globalThis.gc(); globalThis.gc();
const memory = process.memoryUsage();
console.log(JSON.stringify({ rss: memory.rss, heapUsed: memory.heapUsed, ms }));
`;

/** What SCRIPT prints. */
const importRunSchema = z.strictObject({ rss: z.number(), heapUsed: z.number(), ms: z.number() });

export async function importCosts(dist: string, repeats = 3): Promise<ImportCost[]> {
  const rows: ImportCost[] = [];
  for (const [label, modules] of importRows(dist)) {
    const runs: Array<{ rss: number; heapUsed: number; ms: number }> = [];
    for (let i = 0; i < repeats; i++) {
      const result = await run(process.execPath, [
        "--expose-gc",
        "--input-type=module",
        "-e",
        SCRIPT,
        ...modules,
      ]);
      runs.push(importRunSchema.parse(JSON.parse(result.stdout)));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    rows.push({
      label,
      rssMb: Math.round((median(runs.map((r) => r.rss)) / 1048576) * 10) / 10,
      heapMb: Math.round((median(runs.map((r) => r.heapUsed)) / 1048576) * 10) / 10,
      ms: Math.round(median(runs.map((r) => r.ms))),
    });
  }
  return rows;
}
