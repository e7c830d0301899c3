// Keeps a local copy of every object of one kind (optionally narrowed by namespace and selectors):
// list, then watch from the list's resourceVersion with bookmarks (which move the resourceVersion on
// without changes); when the server says the resourceVersion is too old (ERROR 410 Expired) or the
// stream keeps failing, list again and report every difference as an event, so a consumer never
// misses a deletion. The one place that owns "list, then watch, and survive the API's failures".
import { setTimeout as delay } from "node:timers/promises";
import type { KubeObject, KubeReader, ListOptions } from "./api.ts";

export type InformerEvent = "ADDED" | "MODIFIED" | "DELETED";

export interface InformerOptions extends ListOptions {
  onEvent: (type: InformerEvent, object: KubeObject) => void;
  /** After each full list (the first one and every relist). */
  onSynced?: () => void;
  onError?: (error: unknown) => void;
  /** First delay after a failed list or a watch that ended at once; doubles up to 30 s. */
  backoffMs?: number;
  /**
   * A failed list or watch request ends run() with its error instead of a retry after backoff: for
   * callers that wait for something and must say why they cannot. ERROR events still mean relist.
   */
  failFast?: boolean;
  /**
   * What the store keeps of each object (it must keep metadata.name, namespace and resourceVersion):
   * a consumer of a few fields of every Node of a 5,000-node cluster need not hold them whole.
   */
  keep?: (object: KubeObject) => KubeObject;
  /**
   * List in pages of this many objects (the API server's limit/continue, as client-go's reflector
   * does): a list of 5,000 Nodes is tens of megabytes of JSON at once otherwise.
   */
  pageSize?: number;
}

export class Informer {
  /** Keyed by `namespace/name`, or by name alone for cluster-scoped objects. */
  readonly objects = new Map<string, KubeObject>();
  relists = 0;
  private readonly api: KubeReader;
  private readonly apiVersion: string;
  private readonly kind: string;
  private readonly options: InformerOptions;
  private readonly listOptions: ListOptions;

  constructor(api: KubeReader, apiVersion: string, kind: string, options: InformerOptions) {
    this.api = api;
    this.apiVersion = apiVersion;
    this.kind = kind;
    this.options = options;
    this.listOptions = {
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
    };
  }

  async run(signal: AbortSignal): Promise<void> {
    const firstBackoff = this.options.backoffMs ?? 500;
    let backoff = firstBackoff;
    let resourceVersion: string | undefined;
    const pause = async () => {
      await delay(backoff, undefined, { signal }).catch(() => undefined);
      backoff = Math.min(backoff * 2, 30_000);
    };
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.list();
          this.relists++;
          if (signal.aborted) return;
        }
        const started = Date.now();
        const outcome = await this.watchFrom(resourceVersion, signal);
        resourceVersion = outcome.resourceVersion;
        if (outcome.expired) resourceVersion = undefined;
        else if (outcome.events === 0 && Date.now() - started < 1000 && !signal.aborted) {
          // A stream that ends at once with nothing in it is a refused watch (e.g. a plain HTTP 410):
          // list again, after a pause so a failing server is not hammered.
          resourceVersion = undefined;
          await pause();
        } else backoff = firstBackoff;
      } catch (error) {
        if (this.options.failFast) throw error;
        this.options.onError?.(error);
        resourceVersion = undefined;
        await pause();
      }
    }
  }

  private async list(): Promise<string> {
    const { keep, pageSize } = this.options;
    const items: KubeObject[] = [];
    let page: { continue?: string } = {};
    let resourceVersion: string;
    do {
      // Every page is served from the first page's snapshot; an expired continue token throws,
      // and run() lists again from the start.
      const list = await this.api.list(this.apiVersion, this.kind, {
        ...this.listOptions,
        ...(pageSize ? { limit: pageSize } : {}),
        ...(page.continue ? { continue: page.continue } : {}),
      });
      for (const object of list.items) items.push(keep ? keep(object) : object);
      resourceVersion = list.resourceVersion;
      page = list;
    } while (page.continue);
    // The store holds the whole new state before anyone hears of a change, so a consumer that looks
    // at it from an event sees the list, not half of it.
    const previous = new Map(this.objects);
    this.objects.clear();
    for (const object of items) this.objects.set(objectKey(object), object);
    for (const object of items) {
      const before = previous.get(objectKey(object));
      if (before?.metadata.resourceVersion === object.metadata.resourceVersion) continue;
      this.options.onEvent(before ? "MODIFIED" : "ADDED", object);
    }
    for (const [key, object] of previous) if (!this.objects.has(key)) this.options.onEvent("DELETED", object);
    this.options.onSynced?.();
    return resourceVersion;
  }

  private async watchFrom(
    resourceVersion: string,
    signal: AbortSignal,
  ): Promise<{ resourceVersion: string; expired: boolean; events: number }> {
    let latest = resourceVersion;
    let expired = false;
    let events = 0;
    // Events may arrive before api.watch returns, when there is no stream to stop yet: the end is
    // then noted and the stream stopped as soon as it exists.
    const handle: { stream?: { stop(): void } } = {};
    const stream = this.api.watch(
      this.apiVersion,
      this.kind,
      { ...this.listOptions, resourceVersion },
      (event) => {
        if (expired) return;
        events++;
        if (event.type === "ERROR") {
          // 410 Expired is the normal case; anything else is unexpected but handled the same way.
          if ((event.object as { code?: number }).code !== 410) {
            this.options.onError?.(new Error(`watch ${this.kind}: ${JSON.stringify(event.object)}`));
          }
          expired = true;
          handle.stream?.stop();
          return;
        }
        latest = event.object.metadata.resourceVersion ?? latest;
        if (event.type === "BOOKMARK") return;
        const key = objectKey(event.object);
        if (event.type === "DELETED") {
          if (this.objects.delete(key)) this.options.onEvent("DELETED", event.object);
        } else this.upsert(key, this.options.keep ? this.options.keep(event.object) : event.object);
      },
    );
    handle.stream = stream;
    const stop = () => stream.stop();
    signal.addEventListener("abort", stop, { once: true });
    if (expired || signal.aborted) stop();
    try {
      await stream.ended;
    } finally {
      signal.removeEventListener("abort", stop);
    }
    return { resourceVersion: latest, expired, events };
  }

  private upsert(key: string, object: KubeObject): void {
    const previous = this.objects.get(key);
    if (previous?.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.objects.set(key, object);
    this.options.onEvent(previous ? "MODIFIED" : "ADDED", object);
  }
}

function objectKey(object: KubeObject): string {
  const { namespace, name } = object.metadata;
  return namespace ? `${namespace}/${name}` : name;
}
