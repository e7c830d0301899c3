// Progress for waits: silent for the first second (most waits end sooner), then the latest state.
// On a terminal one line is rewritten in place; elsewhere (CI logs, pipes) each change is a new line.
// No colour either way.
import type { Progress } from "../kube/wait.ts";

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const PROGRESS_QUIET_MS = 1000;

export function startProgress(stream: ProgressStream, label: string, quietMs = PROGRESS_QUIET_MS): Progress {
  let latest: string | undefined;
  let shown = false;
  let printed: string | undefined;
  const print = () => {
    if (latest === undefined || latest === printed) return;
    printed = latest;
    const text = `${label}: ${latest}`;
    stream.write(stream.isTTY ? `\r\x1b[2K${text}` : `${text}\n`);
  };
  const timer = setTimeout(() => {
    shown = true;
    print();
  }, quietMs);
  timer.unref();
  return {
    update(line) {
      latest = line;
      if (shown) print();
    },
    done() {
      clearTimeout(timer);
      if (shown && stream.isTTY) stream.write("\r\x1b[2K");
    },
  };
}
