#!/usr/bin/env node
// The aks-ipvlan command line: wires each command module into commander and maps errors to exit codes.
import { Command, CommanderError } from "commander";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeFailure, EXIT_BAD_INPUT } from "./failure.ts";

type Register = (program: Command) => void;

// Each command lives in its own module under ./commands and registers itself here. Only the command
// being run is loaded: the node agent starts on every node boot, and the other commands' modules
// (manifests, testbed, Kubernetes and Azure clients) would cost it time and memory for nothing.
const COMMANDS: Record<string, () => Promise<{ register: Register }>> = {
  plan: () => import("./commands/plan.ts"),
  render: () => import("./commands/render.ts"),
  lint: () => import("./commands/lint.ts"),
  agent: () => import("./commands/agent.ts"),
  "install-cni": () => import("./commands/install-cni.ts"),
  controller: () => import("./commands/controller.ts"),
  install: () => import("./commands/install.ts"),
  uninstall: () => import("./commands/uninstall.ts"),
  verify: () => import("./commands/verify.ts"),
  doctor: () => import("./commands/doctor.ts"),
  demo: () => import("./commands/demo.ts"),
  "setup-host": () => import("./commands/setup-host.ts"),
};

/** The named command's module alone; every module for help, `help CMD` and unknown commands. */
async function registrations(argv: readonly string[]): Promise<Register[]> {
  const name = argv.slice(2).find((arg) => !arg.startsWith("-"));
  const loaders = name && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : Object.values(COMMANDS);
  return (await Promise.all(loaders.map((load) => load()))).map((module) => module.register);
}

/** Every failure, whichever command and whatever kind, leaves through describeFailure. */
export async function main(argv: string[], stderr: NodeJS.WritableStream = process.stderr): Promise<number> {
  const program = new Command("aks-ipvlan")
    .description("ipvlan L3S pod networking for AKS clusters without a network plugin")
    .option("--debug", "print the stack trace of an unexpected failure")
    .exitOverride();
  try {
    for (const register of await registrations(argv)) register(program);
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
 * program with an EPIPE stack trace. Any other failure to write the output (a full disk, `> /dev/full`)
 * leaves through the one error path: one line on stderr, exit 1.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
    const failure = describeFailure(
      new Error(`cannot write the output: ${error.message}`, { cause: error }),
      process.argv.includes("--debug"),
    );
    process.stderr.write(failure.text);
    process.exit(failure.code);
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
