import { describe, expect, it } from "vitest";
import { waitFor, WaitTimeoutError } from "./wait.ts";
import type { KubeApi, KubeObject, WatchEvent } from "./client.ts";

const object = (ready: string, resourceVersion: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "n", resourceVersion },
  data: { ready },
});

/** Lists return `lists` in turn; each watch replays the next script of events, then ends. */
function scriptedApi(lists: KubeObject[][], watches: WatchEvent[][]) {
  const calls: string[] = [];
  const api = {
    async list() {
      calls.push("list");
      return { items: lists.shift() ?? [], resourceVersion: String(calls.length) };
    },
    watch(
      _apiVersion: string,
      _kind: string,
      options: { resourceVersion: string },
      onEvent: (e: WatchEvent) => void,
    ) {
      calls.push(`watch from ${options.resourceVersion}`);
      const events = watches.shift() ?? [];
      let stopped = false;
      const ended = (async () => {
        for (const event of events) if (!stopped) onEvent(event);
      })();
      return { stop: () => (stopped = true), ended };
    },
  } as unknown as KubeApi;
  return { api, calls };
}

const selection = { apiVersion: "v1", kind: "ConfigMap", namespace: "n", what: "configmap c" };
const judge = (items: KubeObject[]) => ({
  done: (items[0]?.data as { ready?: string } | undefined)?.ready === "yes",
  progress: `ready=${(items[0]?.data as { ready?: string } | undefined)?.ready ?? "-"}`,
});

describe("waitFor", () => {
  it("returns at once when the list already satisfies the judge", async () => {
    const { api, calls } = scriptedApi([[object("yes", "1")]], []);
    await waitFor(api, selection, judge, { timeoutMs: 1000 });
    expect(calls).toEqual(["list"]);
  });

  it("relists after a watch ERROR (410 Gone) and finds the state it missed", async () => {
    const gone = { type: "ERROR", object: { code: 410 } as unknown as KubeObject } as WatchEvent;
    const { api, calls } = scriptedApi([[object("no", "1")], [object("yes", "7")]], [[gone]]);
    const progress: string[] = [];
    const [found] = await waitFor(api, selection, judge, {
      timeoutMs: 10_000,
      onProgress: (p) => progress.push(p),
    });
    expect(found?.metadata.resourceVersion).toBe("7");
    expect(calls).toEqual(["list", "watch from 1", "list"]);
    expect(progress).toEqual(["ready=no", "ready=yes"]);
  });

  it("follows watch events, including deletions, until the judge is satisfied", async () => {
    const { api } = scriptedApi(
      [[object("no", "1")]],
      [
        [
          { type: "DELETED", object: object("no", "2") },
          { type: "BOOKMARK", object: object("", "3") },
          { type: "ADDED", object: object("yes", "4") },
        ],
      ],
    );
    const [found] = await waitFor(api, selection, judge, { timeoutMs: 10_000 });
    expect(found?.metadata.resourceVersion).toBe("4");
  });

  it("gives up at the deadline with the last progress in the error", async () => {
    const { api } = scriptedApi([[object("no", "1")]], []);
    const error = await waitFor(api, selection, judge, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toContain("configmap c: ready=-");
  });
});
