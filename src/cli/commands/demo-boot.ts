// The boot both demos share: the guest's own lines (`testbed: ...`) shown on stderr as they come, and
// no runner that can boot here reported as one error line with its fixes (exit 1), not a stack trace.
import { NoRunnerError } from "../../testbed/runners/auto.ts";

/** Runs `boot` with the console printer; undefined (and exit code 1) when no runner could boot. */
export async function bootShowingGuest<T>(
  boot: (onLine: (line: string) => void) => Promise<T>,
): Promise<T | undefined> {
  const onLine = (line: string) => {
    if (line.startsWith("testbed: ")) process.stderr.write(`${line}\n`);
  };
  const run = await boot(onLine).catch((error: unknown) => {
    if (!(error instanceof NoRunnerError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return undefined;
  });
  if (run === undefined) process.exitCode = 1;
  return run;
}
