import { describe, expect, it } from "vitest";
import { Limiter, mapBounded } from "./bounded.ts";

/** A task the test finishes by hand, so concurrency is observed without timers. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe("Limiter", () => {
  it("runs at most `concurrency` tasks at once, the rest in arrival order", async () => {
    const limiter = new Limiter(2);
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) => limiter.run(async () => (started.push(i), await g.opened, i)));
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(limiter.queued).toBe(1);
    gates[1]!.open();
    await runs[1];
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    gates[2]!.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
  });
});

describe("mapBounded", () => {
  it("keeps the input order", async () => {
    expect(await mapBounded([3, 1, 2], 2, async (n) => n * 10)).toEqual([30, 10, 20]);
  });

  it("starts nothing new after a failure and throws the first one", async () => {
    const seen: number[] = [];
    const run = mapBounded([0, 1, 2, 3], 1, async (n) => {
      seen.push(n);
      if (n === 1) throw new Error("boom");
      return n;
    });
    await expect(run).rejects.toThrow("boom");
    expect(seen).toEqual([0, 1]);
  });
});
