// Waiting for the cluster to reach a state: an informer over the matching objects (list, then watch,
// relisting when the watch cannot go on), judging the whole set after the list and after every
// change. A failed list or watch request ends the wait with its error; the deadline with the last
// progress.
import type { KubeApi, KubeObject, ListOptions } from "./client.ts";
import { Informer } from "./informer.ts";

/** How a long wait shows its latest state to a person (the CLI draws it: src/cli/progress.ts). */
export interface Progress {
  update(line: string): void;
  /** Ends the wait: clears a rewritten line, cancels a pending first print. */
  done(): void;
}

export interface Verdict {
  done: boolean;
  /** One line saying where things stand, shown as progress and in the timeout error. */
  progress: string;
}

export interface WaitOptions {
  timeoutMs: number;
  onProgress?: (progress: string) => void;
}

export class WaitTimeoutError extends Error {
  readonly progress: string;

  constructor(what: string, timeoutMs: number, progress: string) {
    super(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}: ${progress}`);
    this.name = "WaitTimeoutError";
    this.progress = progress;
  }
}

export interface Selection extends ListOptions {
  apiVersion: string;
  kind: string;
  /** Shown in progress and errors, e.g. "DaemonSet aks-ipvlan-system/aks-ipvlan-agent". */
  what: string;
}

export async function waitFor(
  api: KubeApi,
  selection: Selection,
  judge: (objects: KubeObject[]) => Verdict,
  options: WaitOptions,
): Promise<KubeObject[]> {
  const { apiVersion, kind, what, ...listOptions } = selection;
  const stop = new AbortController();
  let progress = "not started";
  let finished: KubeObject[] | undefined;
  const look = (objects: KubeObject[]) => {
    if (finished) return;
    const verdict = judge(objects);
    if (verdict.progress !== progress) options.onProgress?.(verdict.progress);
    progress = verdict.progress;
    if (verdict.done) {
      finished = objects;
      stop.abort();
    }
  };
  const informer = new Informer(api, apiVersion, kind, {
    ...listOptions,
    onEvent: () => look([...informer.objects.values()]),
    onSynced: () => look([...informer.objects.values()]),
    backoffMs: RELIST_PAUSE_MS,
    failFast: true,
  });
  const timer = setTimeout(() => stop.abort(), options.timeoutMs);
  try {
    await informer.run(stop.signal);
  } finally {
    clearTimeout(timer);
  }
  if (finished) return finished;
  // One last look at the deadline, so a state reached while the watch was down still counts; if even
  // that fails, the timeout (with the last progress) says more than the failed list would.
  const last = await api.list(apiVersion, kind, listOptions).catch(() => undefined);
  if (last) look(last.items);
  if (finished) return finished;
  throw new WaitTimeoutError(what, options.timeoutMs, progress);
}

/** First pause before a relist when the server ends every watch at once. */
const RELIST_PAUSE_MS = 500;
