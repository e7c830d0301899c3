// Every kernel runner this machine can offer boots the guest and carries ipvlan L3S pod to pod (and, as
// the negative control on the same cluster, cross-node pod to pod fails towards a node once the VNet
// loses that node's routes); for the runner auto picks, which every other e2e file uses, that datapath
// is cluster.test.ts's, and this file only boots it. A runner the machine cannot offer is skipped with its refusal printed. The native runner is also run inside a
// UML guest when the host's kernel lacks ipvlan, and UML without the XSAVE fix must die with the
// host's refusal where the host needs the fix.
import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { plan } from "../../src/ipam/planner.ts";
import { loadSpec } from "../../src/spec/load.ts";
import { SuiteResultSchema, type SuiteJob, type SuiteResult } from "../../src/testbed/job.ts";
import { TestbedError, runInGuest } from "../../src/testbed/run.ts";
import { RUNNERS, chooseRunner } from "../../src/testbed/runners/auto.ts";
import { RUNNER_NAMES } from "../../src/testbed/runners/runner.ts";
import { umlRunner } from "../../src/testbed/runners/uml.ts";
import { HelloResultSchema, NativeInGuestSchema } from "./runner-results.ts";
import { BOOT_TIMEOUT_MS, statusOf } from "./testbed.ts";

const SEED = resolve(import.meta.dirname, "../../examples/seed.yaml");
const NESTED_TIMEOUT_MS = 20 * 60_000;
const GUEST_ENTRY = resolve(import.meta.dirname, "../../src/testbed/guest/main.ts");
/** Only the checks in question on one cluster; the negative control switches the VNet's route table. */
async function smokeJob(): Promise<Omit<SuiteJob, "specFile">> {
  const spec = await loadSpec(SEED);
  const removedNode = spec.nodes.at(-1)!;
  const routes = plan(spec).routes.filter((route) => route.nextHopIpAddress !== removedNode.ip);
  return {
    profiles: ["product"],
    controls: false,
    only: ["pod-to-pod-same-node", "pod-to-pod-cross-node"],
    vnetRoutesAfter: { routes, removedNode: removedNode.name },
  };
}

/** Skips the test with `reason` printed (a refusal is a property of the machine, never hidden). */
function skipBecause(skip: (note: string) => never, reason: string): never {
  console.log(`skipped: ${reason}`);
  return skip(reason);
}

async function expectIpvlanPodToPod(result: SuiteResult): Promise<void> {
  expect(result.error).toBeUndefined();
  const product = result.profiles.find((run) => run.profile === "product")?.results ?? [];
  expect(statusOf(product, "pod-to-pod-same-node")).toBe("pass");
  expect(statusOf(product, "pod-to-pod-cross-node")).toBe("pass");
  // Negative control: the same kernel and cluster without the removed node's VNet routes cannot reach
  // its pods, while the other node stays reachable.
  const { vnetRoutesAfter } = await smokeJob();
  const paths = result.afterSwitch.map((path) => [path.to, statusOf([path.result], path.result.id)]);
  expect(paths).toHaveLength(2);
  for (const [to, status] of paths) {
    expect(status, `pod → pod towards ${to}`).toMatch(
      to === vnetRoutesAfter!.removedNode ? /^fail/ : /^pass$/,
    );
  }
}

describe.each(RUNNER_NAMES)("the %s runner", (name) => {
  it("boots the guest, and ipvlan L3S carries pod-to-pod", { timeout: BOOT_TIMEOUT_MS }, async ({ skip }) => {
    const refusal = await RUNNERS[name].refusal();
    if (refusal !== undefined) skipBecause(skip, `the ${name} runner is not offered here: ${refusal}`);
    if ((await chooseRunner("auto")).runner.name === name) {
      // The runner every other e2e file boots: its pod-to-pod checks and the route switch run in
      // cluster.test.ts; here only that it boots a program to the end on request by name.
      const hello = await runInGuest({
        entry: resolve(import.meta.dirname, "hello-guest.ts"),
        spec: await loadSpec(SEED),
        job: {},
        schema: HelloResultSchema,
        runner: name,
        timeoutMs: BOOT_TIMEOUT_MS,
      });
      console.log(
        `${name} (auto's choice): kernel ${hello.kernel}, boot ${hello.bootMs} ms, in all ${hello.totalMs} ms; its datapath: cluster.test.ts`,
      );
      expect(hello.runner).toBe(name);
      expect(hello.result.kernel).toBe(hello.kernel);
      return;
    }
    const run = await runInGuest({
      entry: GUEST_ENTRY,
      spec: await loadSpec(SEED),
      job: await smokeJob(),
      schema: SuiteResultSchema,
      runner: name,
      timeoutMs: BOOT_TIMEOUT_MS,
    });
    console.log(`${name}: kernel ${run.kernel}, boot ${run.bootMs} ms, boot and run ${run.totalMs} ms`);
    expect(run.runner).toBe(name);
    expect(run.kernel).toBe(run.result.kernel);
    await expectIpvlanPodToPod(run.result);
  });
});

describe("the native runner where the host's kernel lacks ipvlan", () => {
  // Namespaces inside UML were measured up to 3 times slower than UML alone on a loaded machine.
  it("runs inside a UML guest, whose kernel has it", { timeout: NESTED_TIMEOUT_MS }, async ({ skip }) => {
    const hostRefusal = await RUNNERS.native.refusal();
    if (hostRefusal === undefined) {
      skipBecause(skip, "the host's own kernel offers the native runner, tested directly above");
    }
    const umlRefusal = await RUNNERS.uml.refusal();
    if (umlRefusal !== undefined) skipBecause(skip, `no UML guest to run it in: ${umlRefusal}`);
    const run = await runInGuest({
      entry: resolve(import.meta.dirname, "native-guest.ts"),
      spec: await loadSpec(SEED),
      job: await smokeJob(),
      schema: NativeInGuestSchema,
      programs: [GUEST_ENTRY],
      runner: "uml",
      timeoutMs: NESTED_TIMEOUT_MS - 60_000,
    });
    expect(run.result.error).toBeUndefined();
    expect(run.result.runner).toBe("native");
    // The namespaces ran on the guest's kernel, the one the host lacks ipvlan in.
    expect(run.result.kernel).toBe(run.kernel);
    console.log(`native in ${run.runner}: boot ${run.result.bootMs} ms, in all ${run.totalMs} ms`);
    await expectIpvlanPodToPod(run.result.suite!);
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
