// The runner choice: auto takes the first runner in the order native → uml → qemu that does not refuse,
// keeping the refusals it passed over; a named runner is never replaced by another; when none can
// boot, one error lists every refusal and the fix.
import { describe, expect, it } from "vitest";
import { NoRunnerError, chooseRunner } from "./auto.ts";
import type { KernelRunner, RunnerName } from "./runner.ts";

function fakes(refusals: Partial<Record<RunnerName, string>>): Record<RunnerName, KernelRunner> {
  const fake = (name: RunnerName): KernelRunner => ({
    name,
    refusal: () => Promise.resolve(refusals[name]),
    boot: () => Promise.reject(new Error("a fake runner does not boot")),
  });
  return { native: fake("native"), uml: fake("uml"), qemu: fake("qemu") };
}

describe("chooseRunner", () => {
  it("auto takes native when the host kernel can", async () => {
    const { runner, passedOver } = await chooseRunner("auto", fakes({}));
    expect(runner.name).toBe("native");
    expect(passedOver).toEqual([]);
  });

  it("auto passes over a refusing runner and says why", async () => {
    const { runner, passedOver } = await chooseRunner("auto", fakes({ native: "no ipvlan" }));
    expect(runner.name).toBe("uml");
    expect(passedOver).toEqual([{ runner: "native", reason: "no ipvlan" }]);
  });

  it("auto falls back to qemu last", async () => {
    const { runner } = await chooseRunner("auto", fakes({ native: "no ipvlan", uml: "no linux.uml" }));
    expect(runner.name).toBe("qemu");
  });

  it("a named runner that refuses is an error, not another runner", async () => {
    const error = await chooseRunner("uml", fakes({ uml: "no linux.uml" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoRunnerError);
    expect((error as NoRunnerError).refusals).toEqual([{ runner: "uml", reason: "no linux.uml" }]);
  });

  it("when none can boot, one message lists what was tried, why, and the fix", async () => {
    const error = await chooseRunner(
      "auto",
      fakes({ native: "no ipvlan", uml: "missing /usr/bin/linux.uml", qemu: "missing qemu" }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoRunnerError);
    const lines = (error as Error).message.split("\n");
    expect(lines[0]).toMatch(/tried native, uml, qemu/);
    expect(lines.slice(1, 4)).toEqual([
      "  native: no ipvlan",
      "  uml: missing /usr/bin/linux.uml",
      "  qemu: missing qemu",
    ]);
    expect(lines[4]).toMatch(/^fix: .*setup-host\.sh/);
  });
});
