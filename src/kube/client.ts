// The CLI's and the controller's door to the Kubernetes API: the KubeApi interface (api.ts) over
// @kubernetes/client-node's generic object client (discovery, auth, TLS as kubectl does). Everything
// else takes a KubeApi, so the commands never see HTTP and tests point the real implementation at the
// in-test API server. The node agent reads through the lighter rest-client.ts.
import {
  ApiException,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubeConfig,
} from "@kubernetes/client-node";
// Not re-exported by the package's index; needed to hand it objects in its model's form (see wire()).
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js";
import { getSerializationType } from "@kubernetes/client-node/dist/util.js";
import { ClusterUnreachableError, KubeApiError, statusFromBody } from "./errors.ts";
import { FIELD_MANAGER, type KubeApi, type KubeObject, type ObjectRef, type WatchEvent } from "./api.ts";

export { ClusterUnreachableError, KubeApiError } from "./errors.ts";
export * from "./api.ts";

export function connect(config: KubeConfig): KubeApi {
  const objects = KubernetesObjectApi.makeApiClient(config);
  const watcher = new Watch(config);
  const server = config.getCurrentCluster()?.server ?? "the API server";
  const call = <T>(request: () => Promise<T>): Promise<T> =>
    request().catch((error) => translate(error, server));
  const orUndefinedOn404 = async <T>(request: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call(request);
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 404) return undefined;
      throw error;
    }
  };
  const header = (ref: ObjectRef) => ({
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, namespace: ref.namespace },
  });

  return {
    get: (ref) => orUndefinedOn404(() => objects.read(header(ref)).then(wire)),
    list: async (apiVersion, kind, options = {}) => {
      const list = await call(() =>
        objects.list(
          apiVersion,
          kind,
          options.namespace,
          undefined,
          undefined,
          undefined,
          options.fieldSelector,
          options.labelSelector,
          options.limit,
          options.continue,
        ),
      );
      const more = list.metadata?._continue;
      return {
        items: list.items.map((item) => wire({ apiVersion, kind, ...item })),
        resourceVersion: list.metadata?.resourceVersion ?? "",
        ...(more ? { continue: more } : {}),
      };
    },
    apply: (object, options = {}) =>
      call(() =>
        objects
          .patch(
            model(object),
            undefined,
            options.dryRun ? "All" : undefined,
            FIELD_MANAGER,
            options.force,
            PatchStrategy.ServerSideApply,
          )
          .then(wire),
      ),
    create: (object) =>
      call(() => objects.create(model(object), undefined, undefined, FIELD_MANAGER).then(wire)),
    mergePatch: (ref, patch) =>
      call(() =>
        objects
          .patch(
            model({ ...header(ref), ...patch }),
            undefined,
            undefined,
            FIELD_MANAGER,
            undefined,
            PatchStrategy.MergePatch,
          )
          .then(wire),
      ),
    delete: async (ref) =>
      (await orUndefinedOn404(() =>
        objects.delete(header(ref), undefined, undefined, undefined, undefined, "Background"),
      )) !== undefined,
    watch: (apiVersion, kind, options, onEvent) => {
      let controller: AbortController | undefined;
      let stopped = false;
      const ended = (async () => {
        const path = await collectionPath(objects, apiVersion, kind, options.namespace);
        await new Promise<void>((resolve, reject) => {
          watcher
            .watch(
              path,
              {
                resourceVersion: options.resourceVersion,
                allowWatchBookmarks: true,
                labelSelector: options.labelSelector,
                fieldSelector: options.fieldSelector,
              },
              (type, object) => onEvent({ type: type as WatchEvent["type"], object: object as KubeObject }),
              () => resolve(),
            )
            .then((started) => {
              controller = started;
              if (stopped) started.abort();
            }, reject);
        });
      })();
      return {
        stop: () => {
          stopped = true;
          controller?.abort();
        },
        ended,
      };
    },
  };
}

// The generic client knows the collection path only through a protected method; reaching it here
// keeps discovery in one place (the library's) instead of a second table of resources.
async function collectionPath(
  objects: KubernetesObjectApi,
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
): Promise<string> {
  const specUriPath = (
    objects as unknown as {
      specUriPath(spec: KubeObject, action: "list"): Promise<string>;
    }
  ).specUriPath.bind(objects);
  const path = await specUriPath(
    { apiVersion, kind, metadata: { name: "", namespace } } as KubeObject,
    "list",
  );
  return new URL(path, "http://x").pathname;
}

// The generated client returns model class instances (dates as Date); everything here works on the
// wire form, so results go back through JSON.
// client-node sends and receives objects through its generated models, whose property names differ
// from the wire's where the wire's is a reserved word (NetworkPolicy's `from` is `_from`): a plain
// object written as is loses those fields, and one read back has them renamed. Writes go in as the
// model (the client turns it back into the wire form); reads come back out in the wire form.
const typeOf = (object: { apiVersion?: string; kind?: string }) =>
  getSerializationType(object.apiVersion, object.kind);

function model<T extends { apiVersion?: string; kind?: string }>(object: T): T {
  return ObjectSerializer.deserialize(object, typeOf(object), "") as T;
}

function wire(value: { apiVersion?: string; kind?: string }): KubeObject {
  return plain(ObjectSerializer.serialize(value, typeOf(value), ""));
}

function plain(value: unknown): KubeObject {
  return JSON.parse(JSON.stringify(value)) as KubeObject;
}

function translate(error: unknown, server: string): never {
  if (error instanceof ApiException) {
    const code = error.code as number;
    const status = statusFromBody(error.body);
    if (code === 401) {
      throw new ClusterUnreachableError(
        `${server} refused our credentials (401): ${status.message ?? ""}`.trim(),
      );
    }
    throw new KubeApiError(code, status);
  }
  // Our own bounds (config.ts) abort a request with this error; undici hands it on as the cause of
  // its TypeError("terminated") when the body was under way.
  for (let current: unknown = error; current instanceof Error; current = current.cause)
    if (current instanceof ClusterUnreachableError) throw current;
  // undici reports a failed connection (refused, DNS, TLS) as TypeError("fetch failed") with the cause.
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof TypeError && (cause?.code || /fetch failed/.test(error.message))) {
    throw new ClusterUnreachableError(
      `cannot reach ${server}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
      { cause: error },
    );
  }
  throw error;
}
