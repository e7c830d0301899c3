// Waiting for the cluster to reach a state: list, then watch from that list's resourceVersion,
// judging the whole set of matching objects after every event. A watch that ends (server timeout,
// 410 Gone, dropped connection) is followed by a fresh list, so no event is missed.
import { setTimeout as delay } from "node:timers/promises";
import type { KubeApi, KubeObject, ListOptions } from "./client.ts";

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
  const deadline = Date.now() + options.timeoutMs;
  let progress = "not started";
  const report = (verdict: Verdict) => {
    if (verdict.progress !== progress) options.onProgress?.(verdict.progress);
    progress = verdict.progress;
  };

  for (;;) {
    const list = await api.list(apiVersion, kind, listOptions);
    const current = new Map(list.items.map((item) => [key(item), item]));
    const first = judge([...current.values()]);
    report(first);
    if (first.done) return [...current.values()];
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, options.timeoutMs, progress);

    let finished: KubeObject[] | undefined;
    let over = false;
    // Events may arrive before api.watch returns: stopping waits for the handle when it must.
    const handle: { watch?: { stop(): void } } = {};
    const end = () => {
      over = true;
      handle.watch?.stop();
    };
    const stream = api.watch(
      apiVersion,
      kind,
      { ...listOptions, resourceVersion: list.resourceVersion },
      (event) => {
        if (over || event.type === "BOOKMARK") return;
        if (event.type === "ERROR") return end(); // e.g. 410 Gone: relist
        if (event.type === "DELETED") current.delete(key(event.object));
        else current.set(key(event.object), event.object);
        const verdict = judge([...current.values()]);
        report(verdict);
        if (verdict.done) {
          finished = [...current.values()];
          end();
        }
      },
    );
    handle.watch = stream;
    if (over) stream.stop();
    const timer = setTimeout(end, Math.max(0, deadline - Date.now()));
    try {
      await stream.ended;
    } finally {
      clearTimeout(timer);
    }
    if (finished) return finished;
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, options.timeoutMs, progress);
    // A server that ends every watch at once must not turn this into a tight list loop.
    await delay(Math.min(RELIST_PAUSE_MS, deadline - Date.now()));
  }
}

const RELIST_PAUSE_MS = 500;

function key(object: KubeObject): string {
  return `${object.metadata.namespace ?? ""}/${object.metadata.name}`;
}
