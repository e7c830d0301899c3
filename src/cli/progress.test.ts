import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startProgress } from "./progress.ts";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, write: (text: string) => written.push(text), isTTY };
}

describe("startProgress", () => {
  it("prints nothing for a wait that ends within the quiet period", () => {
    const out = stream(false);
    const progress = startProgress(out, "agent", 1000);
    progress.update("ready on 1/3 nodes");
    vi.advanceTimersByTime(999);
    progress.done();
    vi.advanceTimersByTime(5000);
    expect(out.written).toEqual([]);
  });

  it("then prints the latest state and every change, one line each off a terminal, without escapes", () => {
    const out = stream(false);
    const progress = startProgress(out, "agent", 1000);
    progress.update("ready on 1/3 nodes");
    progress.update("ready on 2/3 nodes");
    vi.advanceTimersByTime(1000);
    progress.update("ready on 2/3 nodes");
    progress.update("ready on 3/3 nodes");
    progress.done();
    expect(out.written).toEqual(["agent: ready on 2/3 nodes\n", "agent: ready on 3/3 nodes\n"]);
  });

  it("rewrites one line on a terminal and clears it at the end", () => {
    const out = stream(true);
    const progress = startProgress(out, "agent", 1000);
    progress.update("ready on 1/3 nodes");
    vi.advanceTimersByTime(1000);
    progress.done();
    expect(out.written).toEqual(["\r\x1b[2Kagent: ready on 1/3 nodes", "\r\x1b[2K"]);
  });
});
