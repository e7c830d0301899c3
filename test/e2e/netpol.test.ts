// NetworkPolicy on a real kernel: one translated upstream case of each group (test/netpol/cases.ts;
// the simulator runs them all) enforced by the node agent's enforcer in the testbed's emulated AKS
// (User-Mode Linux, 3 nodes), every pair of pods probed on one node and across nodes and compared with
// the reference evaluator, plus the datapath facts enforcement relies on (and the simulator models),
// the negative control and the window before a new pod's rules hold.
// The guest program (netpol-guest.ts) does the work; this builds the prober and asserts.
import { describe, it } from "vitest";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse } from "yaml";
import { runInGuest } from "../../src/testbed/run.ts";
import type { ClusterSpecInput } from "../../src/spec/schema.ts";
import type { NetpolE2eResult, NetpolJob } from "./netpol-guest.ts";
import { buildProber } from "./netpol-prober.ts";
import { KERNEL_CASES, expectNetpolResult } from "./netpol-expect.ts";
import { timedLines } from "./testbed.ts";
import { NetpolE2eResultSchema } from "./netpol-result.ts";

describe("NetworkPolicy in the testbed", () => {
  it(
    "enforces the upstream cases on one node and across nodes, as the reference evaluator says",
    // A few minutes on an idle machine; program starts in the guest are what a loaded host slows down.
    { timeout: 1_500_000 },
    async () => {
      const spec = parse(
        await readFile(resolve(import.meta.dirname, "../../examples/seed.yaml"), "utf8"),
      ) as ClusterSpecInput;
      const lines = timedLines("netpol: ");
      const { result, bootMs } = await runInGuest<Omit<NetpolJob, "specFile">, NetpolE2eResult>({
        entry: resolve(import.meta.dirname, "netpol-guest.ts"),
        schema: NetpolE2eResultSchema,
        spec,
        job: {
          prober: await buildProber(),
          probeTimeoutMs: 5000,
          cases: KERNEL_CASES,
        },
        onLine: lines.onLine,
        timeoutMs: 1_400_000,
      }).finally(lines.print);
      console.log(
        JSON.stringify(
          {
            bootMs,
            setupMs: result.setupMs,
            casesMs: result.casesMs,
            cases: result.cases.length,
            cells: result.cases.reduce((sum, c) => sum + c.cells, 0),
            // Cells that stayed silent at first and were probed again (slow, not wrong).
            retried: result.cases.reduce((sum, c) => sum + c.retried, 0),
            facts: result.facts,
            control: result.control,
            window: result.window,
          },
          null,
          2,
        ),
      );
      expectNetpolResult(result, KERNEL_CASES);
    },
  );
});
