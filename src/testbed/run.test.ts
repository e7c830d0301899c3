import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { z } from "zod";
import { TestbedError, runInGuest } from "./run.ts";
import type { KernelRunner } from "./runners/runner.ts";

const GUEST = join(import.meta.dirname, "guest/main.ts");

/** A runner whose guest prints `console` and writes nothing, as a guest program that failed. */
function failingRunner(console: string): KernelRunner {
  return {
    name: "uml",
    refusal: async () => undefined,
    boot: async () => ({ code: 0, console }),
  };
}

const run = (console: string) =>
  runInGuest({
    entry: GUEST,
    spec: { nodeSubnet: "10.224.0.0/16" } as never,
    job: {},
    schema: z.object({}),
    timeoutMs: 1000,
    runner: failingRunner(console),
  }).then(
    () => undefined,
    (error: unknown) => error,
  );

describe("runInGuest when the guest writes no results", () => {
  it("says in one line which program failed, its exit code and its first error", async () => {
    const error = await run(
      [
        "testbed: kernel up: uml 6.1.176",
        "node:internal/modules/cjs/loader:1433",
        "Error: Cannot find module '/nowhere/guest.ts'",
        "    at Function._resolveFilename (node:internal/modules/cjs/loader:1430:15)",
        "testbed: guest finished with exit code 1",
        "reboot: System halted",
      ].join("\n"),
    );
    expect(error).toBeInstanceOf(TestbedError);
    const message = (error as TestbedError).message;
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toMatch(/guest program \S+ exited with code 1 .*Error: Cannot find module/);
  });

  it("the control: a guest that ended normally without results gets the console tail", async () => {
    const error = await run("testbed: kernel up: uml 6.1.176\ntestbed: guest finished with exit code 0\n");
    expect((error as TestbedError).message).toMatch(/wrote no results .*console tail/s);
  });
});
