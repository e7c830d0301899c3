// The node agent's Kubernetes client: get, list and watch (JSON lines, bookmarks) over node:https, for
// the few kinds the agent reads. @kubernetes/client-node's KubeConfig loads its whole generated API
// (≈ 90 MB of RSS); this is the same wire protocol in one file (bench/agent.ts measures both). Writes
// stay with client.ts, which the CLI and the controller use.
import type { IncomingMessage, ClientRequest } from "node:http";
import * as https from "node:https";
import { z } from "zod";
import type {
  KubeObject,
  KubeReader,
  ListOptions,
  ObjectList,
  ObjectRef,
  PageOptions,
  WatchEvent,
} from "./api.ts";
import { ClusterUnreachableError, KubeApiError, statusFromBody } from "./errors.ts";
import { API_REQUEST_TIMEOUT_MS, MAX_BODY_BYTES } from "./bounds.ts";

export interface RestConfig {
  /** e.g. https://10.0.0.1:443 */
  server: string;
  /** PEM bundle the server's certificate must chain to; without it, the system's CAs. */
  ca?: string;
  insecureSkipTlsVerify?: boolean;
  /** Read before every request, so a rotated service-account token is picked up. */
  token?: () => Promise<string | undefined>;
  clientCertificate?: { cert: string; key: string };
}

/** The REST resource of each kind the agent reads; another kind needs a row here. */
const RESOURCES: Record<string, { resource: string; namespaced: boolean }> = {
  "v1/Node": { resource: "nodes", namespaced: false },
  "v1/Namespace": { resource: "namespaces", namespaced: false },
  "v1/Pod": { resource: "pods", namespaced: true },
  "networking.k8s.io/v1/NetworkPolicy": { resource: "networkpolicies", namespaced: true },
};

/** A watch's headers must come as promptly as a plain answer; the stream then stays open. */
const WATCH_QUIET_MARGIN_MS = 60_000;

const objectSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({ name: z.string(), resourceVersion: z.string().optional() }),
});
const listSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().optional(), continue: z.string().optional() }).optional(),
  items: z.array(objectSchema).nullable(),
});
const watchEventSchema = z.object({
  type: z.enum(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
  object: z.looseObject({}),
});

export function restClient(config: RestConfig): KubeReader {
  const base = new URL(config.server);
  const secure = base.protocol === "https:";
  // node:http is only loaded for a plain-http server (tests): its ESM namespace pulls in undici.
  const transport = secure ? https : process.getBuiltinModule("node:http");
  const agent = new transport.Agent({
    keepAlive: true,
    ...(secure
      ? {
          ...(config.ca ? { ca: config.ca } : {}),
          rejectUnauthorized: !config.insecureSkipTlsVerify,
          ...(config.clientCertificate ?? {}),
        }
      : {}),
  });

  const send = async (
    path: string,
    query: Record<string, string | undefined>,
    watch: boolean,
  ): Promise<{ request: ClientRequest; response: IncomingMessage }> => {
    const url = new URL(base.pathname.replace(/\/$/, "") + path, base);
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(name, value);
    const token = await config.token?.();
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const timedOut = () => request.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }));
      // Every request has a deadline for its answer (a server that accepts TCP and never answers);
      // a plain request also for its whole body.
      const deadline = setTimeout(timedOut, API_REQUEST_TIMEOUT_MS);
      const request = transport.request(url, { agent, headers }, (response) => {
        if (watch) {
          clearTimeout(deadline);
          // The server ends a watch after timeoutSeconds and sends bookmarks meanwhile: a stream quiet
          // for longer than that is dead.
          request.setTimeout(Number(query.timeoutSeconds ?? 0) * 1000 + WATCH_QUIET_MARGIN_MS, timedOut);
        } else {
          response.on("close", () => clearTimeout(deadline));
        }
        resolve({ request, response });
      });
      request.on("error", (error) => {
        clearTimeout(deadline);
        reject(unreachable(config.server, error));
      });
      request.end();
    });
  };

  const call = async (path: string, query: Record<string, string | undefined> = {}): Promise<unknown> => {
    const { response } = await send(path, query, false);
    const body = await readBody(response).catch((error: Error) => {
      throw unreachable(config.server, error);
    });
    if (response.statusCode !== 200) throw failure(config.server, response.statusCode ?? 0, body);
    return parseJson(body, path);
  };

  return {
    async get(ref: ObjectRef) {
      try {
        const object = objectSchema.parse(await call(objectPath(ref)));
        return { ...object, apiVersion: ref.apiVersion, kind: ref.kind } as KubeObject;
      } catch (error) {
        if (error instanceof KubeApiError && error.code === 404) return undefined;
        throw error;
      }
    },
    async list(
      apiVersion: string,
      kind: string,
      options: ListOptions & PageOptions = {},
    ): Promise<ObjectList> {
      const list = listSchema.parse(
        await call(collectionPath(apiVersion, kind, options.namespace), {
          ...selectors(options),
          limit: options.limit === undefined ? undefined : String(options.limit),
          continue: options.continue,
        }),
      );
      return {
        items: (list.items ?? []).map((item) => ({ ...item, apiVersion, kind }) as KubeObject),
        resourceVersion: list.metadata?.resourceVersion ?? "",
        ...(list.metadata?.continue ? { continue: list.metadata.continue } : {}),
      };
    },
    watch(apiVersion, kind, options, onEvent) {
      let current: ClientRequest | undefined;
      let stopped = false;
      const ended = (async () => {
        const sent = await send(
          collectionPath(apiVersion, kind, options.namespace),
          {
            watch: "true",
            allowWatchBookmarks: "true",
            resourceVersion: options.resourceVersion,
            // As client-go's reflector: the server ends the watch after 5-10 minutes, spreading the
            // re-watches of many agents; the informer continues from the last resourceVersion.
            timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
            ...selectors(options),
          },
          true,
        ).catch((error: unknown) => {
          if (!stopped) throw error;
        });
        if (!sent) return;
        const { request, response } = sent;
        current = request;
        if (stopped) request.destroy();
        if (response.statusCode !== 200) {
          const body = await readBody(response).catch(() => "");
          // 410 Gone before the stream starts means the same as an ERROR event in it: relist.
          if (response.statusCode === 410) {
            onEvent({ type: "ERROR", object: parseJson(body, "watch") as KubeObject });
            return;
          }
          throw failure(config.server, response.statusCode ?? 0, body);
        }
        await readLines(response, (line) => {
          if (stopped) return;
          const event = watchEventSchema.parse(parseJson(line, "watch event"));
          onEvent(event as WatchEvent);
        });
      })();
      return {
        stop: () => {
          stopped = true;
          current?.destroy();
        },
        ended,
      };
    },
  };
}

function selectors(options: ListOptions): Record<string, string | undefined> {
  return { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector };
}

function resourceOf(apiVersion: string, kind: string) {
  const resource = RESOURCES[`${apiVersion}/${kind}`];
  if (!resource) throw new Error(`the agent's Kubernetes client does not know ${apiVersion} ${kind}`);
  return resource;
}

function collectionPath(apiVersion: string, kind: string, namespace: string | undefined): string {
  const { resource, namespaced } = resourceOf(apiVersion, kind);
  const group = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${group}${namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ""}/${resource}`;
}

function objectPath(ref: ObjectRef): string {
  if (resourceOf(ref.apiVersion, ref.kind).namespaced && !ref.namespace) {
    throw new Error(`${ref.kind} ${ref.name}: a namespaced object needs its namespace`);
  }
  return `${collectionPath(ref.apiVersion, ref.kind, ref.namespace)}/${encodeURIComponent(ref.name)}`;
}

function failure(server: string, code: number, body: string): Error {
  const status = statusFromBody(body);
  if (code === 401) {
    return new ClusterUnreachableError(
      `${server} refused our credentials (401): ${status.message ?? ""}`.trim(),
    );
  }
  return new KubeApiError(code, status);
}

/** A connection that failed (refused, DNS, TLS, timeout, reset) names its cause, as client.ts does. */
function unreachable(server: string, error: Error & { code?: string }): ClusterUnreachableError {
  return new ClusterUnreachableError(`cannot reach ${server}: ${error.code ?? error.message}`, {
    cause: error,
  });
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`the API server sent a ${what} that is not JSON: ${text.slice(0, 200)}`);
  }
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response) {
    length += (chunk as Buffer).length;
    if (length > MAX_BODY_BYTES) {
      response.destroy();
      throw tooLong();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, length).toString("utf8");
}

function tooLong(): Error {
  return Object.assign(new Error(`the API server sent more than ${MAX_BODY_BYTES} bytes`), { code: "EFBIG" });
}

/**
 * Calls onLine for each complete line; resolves when the stream closes: the server's end, a reset
 * connection and stop() all end a watch the same way (the informer watches again from its version).
 */
function readLines(response: IncomingMessage, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      pending += chunk;
      if (pending.length > MAX_BODY_BYTES) {
        reject(tooLong());
        response.destroy();
        return;
      }
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (!line) continue;
        try {
          onLine(line);
        } catch (error) {
          reject(error as Error);
          response.destroy();
          return;
        }
      }
    });
    response.on("error", () => undefined);
    response.on("close", () => resolve());
  });
}
