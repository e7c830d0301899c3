#!/usr/bin/env node
// The aks-ipvlan command line: wires each command module into commander and maps errors to exit codes.
import { Command, CommanderError } from "commander";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeFailure, EXIT_BAD_INPUT } from "./failure.ts";
import { register as plan } from "./commands/plan.ts";
import { register as render } from "./commands/render.ts";
import { register as lint } from "./commands/lint.ts";
import { register as agent } from "./commands/agent.ts";
import { register as installCni } from "./commands/install-cni.ts";
import { register as controller } from "./commands/controller.ts";
import { register as install } from "./commands/install.ts";
import { register as uninstall } from "./commands/uninstall.ts";
import { register as verify } from "./commands/verify.ts";
import { register as doctor } from "./commands/doctor.ts";
import { register as demo } from "./commands/demo.ts";

// Each command lives in its own module under ./commands and registers itself here.
const commands: Array<(program: Command) => void> = [
  plan,
  render,
  lint,
  agent,
  installCni,
  controller,
  install,
  uninstall,
  verify,
  doctor,
  demo,
];

/** Every failure, whichever command and whatever kind, leaves through describeFailure. */
export async function main(argv: string[], stderr: NodeJS.WritableStream = process.stderr): Promise<number> {
  const program = new Command("aks-ipvlan")
    .description("ipvlan L3S pod networking for AKS clusters without a network plugin")
    .option("--debug", "print the stack trace of an unexpected failure")
    .exitOverride();
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    const failure = describeFailure(error, argv.includes("--debug"));
    stderr.write(failure.text);
    return failure.code;
  }
}

/**
 * A reader that stops early (`aks-ipvlan plan | head`) closes the pipe: that ends the output, not the
 * program with an EPIPE stack trace.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
  });
}

/** True when this file is the program node was started with, also through a symlink (node_modules/.bin). */
function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  quietOnClosedPipe(process.stdout);
  process.exitCode = await main(process.argv);
}
