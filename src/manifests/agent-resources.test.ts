// The agent DaemonSet's memory request and limit against the figure bench/agent.ts measured and
// recorded (bench/results/agent.json): the request covers the steady RSS without reserving much more
// on every node, the limit leaves headroom over the peak. Re-running the bench rewrites the figure;
// when the agent grows or shrinks, this fails until the manifest follows.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { agentDaemonSet } from "./agent.ts";
import { validateSpec } from "../spec/load.ts";

const recordSchema = z.object({ steadyRssMb: z.number().positive(), peakRssMb: z.number().positive() });
const measured = recordSchema.parse(
  JSON.parse(readFileSync(new URL("../../bench/results/agent.json", import.meta.url), "utf8")),
);

/** A memory quantity in MiB; the manifest writes Mi. */
function mebibytes(quantity: string | number | undefined): number {
  const match = /^(\d+)Mi$/.exec(String(quantity));
  if (!match) throw new Error(`expected a quantity in Mi, got ${String(quantity)}`);
  return Number(match[1]);
}

describe("the agent's resources follow the bench's measurement", () => {
  const spec = validateSpec({ nodeSubnet: "10.224.0.0/16", blockSize: 28, maxPodsPerNode: 16 });
  const resources = agentDaemonSet(spec).spec!.template.spec!.containers[0]!.resources!;
  const request = mebibytes(resources.requests?.memory as string);
  const limit = mebibytes(resources.limits?.memory as string);

  it("requests at least the steady RSS, and at most a quarter more", () => {
    expect(request).toBeGreaterThanOrEqual(measured.steadyRssMb);
    expect(request).toBeLessThanOrEqual(measured.steadyRssMb * 1.25);
  });

  it("limits at 1.5 to 2.5 times the peak RSS", () => {
    expect(limit).toBeGreaterThanOrEqual(measured.peakRssMb * 1.5);
    expect(limit).toBeLessThanOrEqual(measured.peakRssMb * 2.5);
  });
});
