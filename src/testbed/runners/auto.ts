// Choosing the runner: a named one, or (auto) the first of native → uml → qemu that can boot here. When
// none can, one error lists what was tried, why each refused, and the fix.
import { nativeRunner } from "./native.ts";
import { qemuRunner } from "./qemu.ts";
import {
  RUNNER_NAMES,
  setupCommand,
  type KernelRunner,
  type RunnerChoice,
  type RunnerName,
} from "./runner.ts";
import { umlRunner } from "./uml.ts";

export const RUNNERS: Record<RunnerName, KernelRunner> = {
  native: nativeRunner,
  uml: umlRunner(),
  qemu: qemuRunner,
};

export interface Refusal {
  runner: RunnerName;
  reason: string;
}

export class NoRunnerError extends Error {
  readonly refusals: Refusal[];

  constructor(refusals: Refusal[]) {
    super(
      [
        `no kernel runner can boot the emulated AKS here; tried ${refusals.map((r) => r.runner).join(", ")}:`,
        ...refusals.map((refusal) => `  ${refusal.runner}: ${refusal.reason}`),
        `fix: follow one of the lines above${refusals.length < RUNNER_NAMES.length ? ", or let auto choose (--runner auto, AKS_IPVLAN_RUNNER=auto)" : ""}; "${setupCommand()}" as root prepares uml, and "${setupCommand("qemu")}" also qemu`,
      ].join("\n"),
    );
    this.name = "NoRunnerError";
    this.refusals = refusals;
  }
}

/** The runner for `choice`, and the refusals of those auto passed over on the way. */
export async function chooseRunner(
  choice: RunnerChoice,
  runners: Record<RunnerName, KernelRunner> = RUNNERS,
): Promise<{ runner: KernelRunner; passedOver: Refusal[] }> {
  const candidates = choice === "auto" ? RUNNER_NAMES : [choice];
  const refusals: Refusal[] = [];
  for (const name of candidates) {
    const reason = await runners[name].refusal();
    if (reason === undefined) return { runner: runners[name], passedOver: refusals };
    refusals.push({ runner: name, reason });
  }
  throw new NoRunnerError(refusals);
}
