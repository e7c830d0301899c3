import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Coalescer } from "./coalesce.ts";

/** A task the test finishes run by run, recording each run's reasons. */
function scriptedTask() {
  const runs: string[][] = [];
  const finishers: Array<(error?: Error) => void> = [];
  const task = (reasons: ReadonlySet<string>) =>
    new Promise<void>((resolve, reject) => {
      runs.push([...reasons].sort());
      finishers.push((error) => (error ? reject(error) : resolve()));
    });
  /** Ends run `index` (0-based) and lets the coalescer react. */
  const finish = async (index: number, error?: Error) => {
    finishers[index]!(error);
    await vi.advanceTimersByTimeAsync(0);
  };
  return { runs, task, finish };
}

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe("Coalescer", () => {
  it("runs at once, and folds kicks during a run into one more run with all their reasons", async () => {
    const { runs, task, finish } = scriptedTask();
    const coalescer = new Coalescer(task, () => expect.fail("no run fails"));
    coalescer.kick("start");
    expect(runs).toEqual([["start"]]);
    coalescer.kick("spec");
    coalescer.kick("node");
    coalescer.kick("spec");
    await finish(0);
    expect(runs).toEqual([["start"], ["node", "spec"]]);
    await finish(1);
    expect(runs).toHaveLength(2);
    coalescer.kick();
    expect(runs).toEqual([["start"], ["node", "spec"], []]);
    await finish(2);
  });

  it("with a backoff, retries a failed run after a doubling, capped delay; kicks wait for it", async () => {
    const { runs, task, finish } = scriptedTask();
    const errors: unknown[] = [];
    const coalescer = new Coalescer(task, (error) => errors.push(error), { firstMs: 100, maxMs: 250 });
    coalescer.kick("a");
    await finish(0, new Error("first"));
    expect(errors).toEqual([new Error("first")]);
    coalescer.kick("b");
    await vi.advanceTimersByTimeAsync(99);
    expect(runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toEqual([["a"], ["b"]]);
    await finish(1, new Error("second"));
    await vi.advanceTimersByTimeAsync(199);
    expect(runs).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(3);
    await finish(2, new Error("third"));
    await vi.advanceTimersByTimeAsync(249);
    expect(runs).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toHaveLength(4);
    await finish(3);
    // Success resets the backoff: the next failure waits the first delay again.
    coalescer.kick();
    await finish(4, new Error("again"));
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toHaveLength(6);
    await finish(5);
    expect(errors).toHaveLength(4);
  });

  it("kickNow runs at once even while backing off", async () => {
    const { runs, task, finish } = scriptedTask();
    const coalescer = new Coalescer(task, () => undefined, { firstMs: 60_000, maxMs: 60_000 });
    coalescer.kick();
    await finish(0, new Error("down"));
    coalescer.kick();
    expect(runs).toHaveLength(1);
    coalescer.kickNow("resync");
    expect(runs).toEqual([[], ["resync"]]);
    await finish(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toHaveLength(2);
  });

  it("without a backoff, reports a failure and runs again only when kicked", async () => {
    const { runs, task, finish } = scriptedTask();
    const errors: unknown[] = [];
    const coalescer = new Coalescer(task, (error) => errors.push(error));
    coalescer.kick("a");
    await finish(0, new Error("boom"));
    expect(errors).toEqual([new Error("boom")]);
    await vi.runAllTimersAsync();
    expect(runs).toEqual([["a"]]);
    coalescer.kick("b");
    coalescer.kick("c");
    await finish(1, new Error("boom"));
    // The kick during the failed run is not lost.
    expect(runs).toEqual([["a"], ["b"], ["c"]]);
    await finish(2);
    await vi.runAllTimersAsync();
    expect(runs).toHaveLength(3);
  });

  it("stop waits for the current run and starts no more, not even a pending retry", async () => {
    const { runs, task, finish } = scriptedTask();
    const coalescer = new Coalescer(task, () => undefined, { firstMs: 10, maxMs: 10 });
    coalescer.kick();
    await finish(0, new Error("down"));
    coalescer.kickNow();
    coalescer.kick("queued");
    let stopped = false;
    const stopping = coalescer.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    await finish(1);
    await stopping;
    coalescer.kick("late");
    await vi.runAllTimersAsync();
    expect(runs).toEqual([[], []]);
  });
});
