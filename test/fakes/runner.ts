// A test double for the Runner contract of src/sys/exec.ts: records each argv and stdin, answers from
// canned results per command line (first match wins), and throws CommandError for non-zero exits.
import { CommandError, type RunOptions, type RunResult, type Runner } from "../../src/sys/exec.ts";

interface Call {
  file: string;
  args: string[];
  input: string | undefined;
}

type Answer = Partial<RunResult> | ((call: Call) => Partial<RunResult>) | Error;

export interface FakeRunner {
  run: Runner;
  calls: Call[];
  /** Answers commands whose `file args...` line starts with `prefix`. */
  on(prefix: string, answer: Answer): FakeRunner;
}

export function fakeRunner(): FakeRunner {
  const answers: [string, Answer][] = [];
  const calls: Call[] = [];
  const run: Runner = async (file, args, options: RunOptions = {}) => {
    const call = { file, args: [...args], input: options.input };
    calls.push(call);
    const line = [file, ...args].join(" ");
    const found = answers.find(([prefix]) => line.startsWith(prefix));
    if (!found) throw Object.assign(new Error(`spawn ${file} ENOENT`), { code: "ENOENT" });
    const answer = found[1];
    if (answer instanceof Error) throw answer;
    const partial = typeof answer === "function" ? answer(call) : answer;
    const result = { code: 0, stdout: "", stderr: "", ...partial };
    if (!(options.okCodes ?? [0]).includes(result.code)) throw new CommandError(line, result);
    return result;
  };
  const fake: FakeRunner = {
    run,
    calls,
    on(prefix, answer) {
      answers.push([prefix, answer]);
      return fake;
    },
  };
  return fake;
}
