// Every kernel runner this machine can offer boots the guest and carries ipvlan L3S pod to pod (with the
// seed's configuration, which has no VNet routes, failing cross node as the negative control). A runner
// the machine cannot offer is skipped with its refusal printed. The native runner is also run inside a
// UML guest when the host's kernel lacks ipvlan, and UML without the XSAVE fix must die with the
// host's refusal where the host needs the fix.
import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { loadSpec } from "../../src/spec/load.ts";
import { SuiteResultSchema, type SuiteJob, type SuiteResult } from "../../src/testbed/job.ts";
import { TestbedError, runInGuest } from "../../src/testbed/run.ts";
import { RUNNERS } from "../../src/testbed/runners/auto.ts";
import { RUNNER_NAMES } from "../../src/testbed/runners/runner.ts";
import { umlRunner } from "../../src/testbed/runners/uml.ts";
import { HelloResultSchema, NativeInGuestSchema } from "./runner-results.ts";
import { BOOT_TIMEOUT_MS, statusOf } from "./testbed.ts";

const SEED = resolve(import.meta.dirname, "../../examples/seed.yaml");
const GUEST_ENTRY = resolve(import.meta.dirname, "../../src/testbed/guest/main.ts");
const SMOKE_JOB: Omit<SuiteJob, "specFile"> = {
  profiles: ["product", "seed"],
  controls: false,
  only: ["pod-to-pod-same-node", "pod-to-pod-cross-node"],
};

/** Skips the test with `reason` printed (a refusal is a property of the machine, never hidden). */
function skipBecause(skip: (note: string) => never, reason: string): never {
  console.log(`skipped: ${reason}`);
  return skip(reason);
}

function expectIpvlanPodToPod(result: SuiteResult): void {
  expect(result.error).toBeUndefined();
  const profile = (name: string) => result.profiles.find((run) => run.profile === name)?.results ?? [];
  expect(statusOf(profile("product"), "pod-to-pod-same-node")).toBe("pass");
  expect(statusOf(profile("product"), "pod-to-pod-cross-node")).toBe("pass");
  // Negative control: the same kernel and plugins without the VNet routes cannot cross nodes.
  expect(statusOf(profile("seed"), "pod-to-pod-cross-node")).toMatch(/^fail/);
}

describe.each(RUNNER_NAMES)("the %s runner", (name) => {
  it("boots the guest, and ipvlan L3S carries pod-to-pod", { timeout: BOOT_TIMEOUT_MS }, async ({ skip }) => {
    const refusal = await RUNNERS[name].refusal();
    if (refusal !== undefined) skipBecause(skip, `the ${name} runner is not offered here: ${refusal}`);
    const run = await runInGuest({
      entry: GUEST_ENTRY,
      spec: await loadSpec(SEED),
      job: SMOKE_JOB,
      schema: SuiteResultSchema,
      runner: name,
      timeoutMs: BOOT_TIMEOUT_MS,
    });
    console.log(`${name}: kernel ${run.kernel}, boot ${run.bootMs} ms, boot and run ${run.totalMs} ms`);
    expect(run.runner).toBe(name);
    expect(run.kernel).toBe(run.result.kernel);
    expectIpvlanPodToPod(run.result);
  });
});

describe("the native runner where the host's kernel lacks ipvlan", () => {
  it("runs inside a UML guest, whose kernel has it", { timeout: BOOT_TIMEOUT_MS }, async ({ skip }) => {
    const hostRefusal = await RUNNERS.native.refusal();
    if (hostRefusal === undefined) {
      skipBecause(skip, "the host's own kernel offers the native runner, tested directly above");
    }
    const umlRefusal = await RUNNERS.uml.refusal();
    if (umlRefusal !== undefined) skipBecause(skip, `no UML guest to run it in: ${umlRefusal}`);
    const run = await runInGuest({
      entry: resolve(import.meta.dirname, "native-guest.ts"),
      spec: await loadSpec(SEED),
      job: SMOKE_JOB,
      schema: NativeInGuestSchema,
      runner: "uml",
      timeoutMs: BOOT_TIMEOUT_MS,
    });
    expect(run.result.error).toBeUndefined();
    expect(run.result.runner).toBe("native");
    // The namespaces ran on the guest's kernel, the one the host lacks ipvlan in.
    expect(run.result.kernel).toBe(run.kernel);
    console.log(`native in ${run.runner}: boot ${run.result.bootMs} ms, in all ${run.totalMs} ms`);
    expectIpvlanPodToPod(run.result.suite!);
  });
});

describe("User-Mode Linux without the XSAVE fix", () => {
  it(
    'dies with "ptrace set fp regs failed" where the host needs the fix',
    { timeout: BOOT_TIMEOUT_MS },
    async ({ skip }) => {
      const unfixed = umlRunner({ xsaveFix: false });
      const refusal = await unfixed.refusal();
      if (refusal !== undefined) skipBecause(skip, `User-Mode Linux is not offered here: ${refusal}`);
      const boot = await runInGuest({
        entry: resolve(import.meta.dirname, "hello-guest.ts"),
        spec: await loadSpec(SEED),
        job: {},
        schema: HelloResultSchema,
        runner: unfixed,
        timeoutMs: BOOT_TIMEOUT_MS,
      }).catch((error: unknown) => {
        if (error instanceof TestbedError) return error;
        throw error;
      });
      if (!(boot instanceof TestbedError)) {
        skipBecause(
          skip,
          `this host accepts UML's XSAVE writes without the fix (kernel ${boot.result.kernel} ran a program), so there is no failure to show`,
        );
      }
      expect(boot.console).toMatch(/ptrace set fp regs failed/);
    },
  );
});
