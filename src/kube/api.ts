// The Kubernetes API as the programs see it: objects in their wire form and the calls made on them.
// Kept apart from both clients (client.ts over @kubernetes/client-node for the CLI and controller,
// rest-client.ts over node:https for the agent), so importing the types loads neither.

export const FIELD_MANAGER = "aks-ipvlan";

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
}

interface ObjectMeta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  managedFields?: ManagedFieldsEntry[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** `a=1,b=2`: the label selector matching exactly these labels. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** One page of a list: at most `limit` objects, from where `continue` (the previous page's) says. */
export interface PageOptions {
  limit?: number;
  continue?: string;
}

export interface ObjectList {
  items: KubeObject[];
  resourceVersion: string;
  /** More objects remain: pass this as `continue` for the next page. */
  continue?: string;
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/** The calls that only read: all the node agent and an informer need. */
export interface KubeReader {
  /** undefined when the object does not exist. */
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, options?: ListOptions & PageOptions): Promise<ObjectList>;
  /** Streams events from resourceVersion on; resolves when the server or stop() ends the stream. */
  watch(
    apiVersion: string,
    kind: string,
    options: ListOptions & { resourceVersion: string },
    onEvent: (event: WatchEvent) => void,
  ): { stop(): void; ended: Promise<void> };
}

export interface KubeApi extends KubeReader {
  /** Server-side apply with our field manager. */
  apply(object: KubeObject, options?: { dryRun?: boolean; force?: boolean }): Promise<KubeObject>;
  create(object: KubeObject): Promise<KubeObject>;
  mergePatch(ref: ObjectRef, patch: Record<string, unknown>): Promise<KubeObject>;
  /** false when there was nothing to delete. */
  delete(ref: ObjectRef): Promise<boolean>;
}
