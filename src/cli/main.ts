#!/usr/bin/env node
// The aks-ipvlan command line: wires each command module into commander and maps errors to exit codes.
import { Command, CommanderError } from "commander";
import { UserError } from "../spec/errors.ts";

// Each command lives in its own module under ./commands and registers itself here.
const commands: Array<(program: Command) => void> = [];

export async function main(argv: string[]): Promise<number> {
  const program = new Command("aks-ipvlan")
    .description("ipvlan L3S pod networking for AKS clusters without a network plugin")
    .exitOverride();
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UserError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv);
}
