// Keeps a local copy of every object of one kind: list, then watch from the list's resourceVersion
// with bookmarks (which move the resourceVersion on without changes); when the server says the
// resourceVersion is too old (ERROR 410 Expired) or the stream keeps failing, list again and report
// every difference as an event, so a consumer never misses a deletion.
import type { KubeApi, KubeObject } from "../kube/client.ts";
import { pause } from "./leader.ts";

export type InformerEvent = "ADDED" | "MODIFIED" | "DELETED";

export interface InformerOptions {
  onEvent: (type: InformerEvent, object: KubeObject) => void;
  /** After each full list (the first one and every relist). */
  onSynced?: () => void;
  onError?: (error: unknown) => void;
  /** First delay after a failed list or a watch that ended at once; doubles up to 30 s. */
  backoffMs?: number;
}

export class Informer {
  readonly objects = new Map<string, KubeObject>();
  relists = 0;
  private readonly api: KubeApi;
  private readonly apiVersion: string;
  private readonly kind: string;
  private readonly options: InformerOptions;

  constructor(api: KubeApi, apiVersion: string, kind: string, options: InformerOptions) {
    this.api = api;
    this.apiVersion = apiVersion;
    this.kind = kind;
    this.options = options;
  }

  async run(signal: AbortSignal): Promise<void> {
    const firstBackoff = this.options.backoffMs ?? 500;
    let backoff = firstBackoff;
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.list();
          this.relists++;
        }
        const started = Date.now();
        const outcome = await this.watchFrom(resourceVersion, signal);
        resourceVersion = outcome.resourceVersion;
        if (outcome.expired) resourceVersion = undefined;
        else if (outcome.events === 0 && Date.now() - started < 1000 && !signal.aborted) {
          // A stream that ends at once with nothing in it is a refused watch (e.g. a plain HTTP 410):
          // list again, after a pause so a failing server is not hammered.
          resourceVersion = undefined;
          await pause(backoff, signal);
          backoff = Math.min(backoff * 2, 30_000);
        } else backoff = firstBackoff;
      } catch (error) {
        this.options.onError?.(error);
        resourceVersion = undefined;
        await pause(backoff, signal);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  private async list(): Promise<string> {
    const list = await this.api.list(this.apiVersion, this.kind);
    const seen = new Set<string>();
    for (const object of list.items) {
      seen.add(object.metadata.name);
      this.upsert(object);
    }
    for (const [name, object] of [...this.objects]) {
      if (!seen.has(name)) {
        this.objects.delete(name);
        this.options.onEvent("DELETED", object);
      }
    }
    this.options.onSynced?.();
    return list.resourceVersion;
  }

  private upsert(object: KubeObject): void {
    const previous = this.objects.get(object.metadata.name);
    if (previous?.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.objects.set(object.metadata.name, object);
    this.options.onEvent(previous ? "MODIFIED" : "ADDED", object);
  }

  private async watchFrom(
    resourceVersion: string,
    signal: AbortSignal,
  ): Promise<{ resourceVersion: string; expired: boolean; events: number }> {
    let latest = resourceVersion;
    let expired = false;
    let events = 0;
    const stream = this.api.watch(this.apiVersion, this.kind, { resourceVersion }, (event) => {
      events++;
      if (event.type === "ERROR") {
        // 410 Expired is the normal case; anything else is unexpected but handled the same way.
        if ((event.object as { code?: number }).code !== 410) {
          this.options.onError?.(new Error(`watch ${this.kind}: ${JSON.stringify(event.object)}`));
        }
        expired = true;
        stream.stop();
        return;
      }
      latest = event.object.metadata.resourceVersion ?? latest;
      if (event.type === "BOOKMARK") return;
      if (event.type === "DELETED") {
        if (this.objects.delete(event.object.metadata.name)) this.options.onEvent("DELETED", event.object);
      } else this.upsert(event.object);
    });
    const stop = () => stream.stop();
    signal.addEventListener("abort", stop, { once: true });
    await stream.ended;
    signal.removeEventListener("abort", stop);
    return { resourceVersion: latest, expired, events };
  }
}
