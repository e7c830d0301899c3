// The node agent's log as events: a program that started an agent (testbed, bench) waits for the line
// that says what it needs ("ready", "reconciled") instead of polling /readyz, which on a one-CPU guest
// takes CPU from the very agent it waits for.
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { z } from "zod";

/** The fields of a pino line the waiters look at; the rest are kept as they came. */
const LogLineSchema = z.looseObject({ msg: z.string() });

export type AgentLogLine = z.infer<typeof LogLineSchema> & {
  /** Milliseconds from the watch's start to the line. */
  at: number;
};

export class AgentLog {
  readonly lines: AgentLogLine[] = [];
  readonly #started = performance.now();
  readonly #waiters = new Set<() => void>();
  /** Set once the agent exited and its output was read to the end. */
  #ended: string | undefined;

  /** `child` must have been spawned with a piped stdout; `onLine` also sees lines that are not JSON. */
  constructor(child: ChildProcess, onLine?: (line: string) => void) {
    createInterface({ input: child.stdout! }).on("line", (text) => {
      onLine?.(text);
      const parsed = LogLineSchema.safeParse(safeJson(text));
      const at = performance.now() - this.#started;
      this.lines.push(parsed.success ? { ...parsed.data, at } : { msg: text, at });
      this.#wake();
    });
    // "close", not "exit": lines still in the pipe at exit are read first.
    child.once("close", (code, signal) => {
      this.#ended = String(code ?? signal);
      this.#wake();
    });
  }

  /** The first line from index `from` on that matches; rejects when the agent exits or `timeoutMs` passes. */
  waitFor(match: (line: AgentLogLine) => boolean, timeoutMs: number, from = 0): Promise<AgentLogLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no matching agent log line in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const found = this.lines.slice(from).find(match);
        if (found) finish(undefined, found);
        else if (this.#ended !== undefined) finish(new Error(`the agent exited (${this.#ended})`));
      };
      const finish = (error?: Error, line?: AgentLogLine) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(line!);
      };
      this.#waiters.add(check);
      check();
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
