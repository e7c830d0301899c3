// In-test Kubernetes API server (a test double, not the real kube-apiserver): speaks the real REST wire protocol
// for the kinds aks-ipvlan uses — discovery, GET/LIST (label and field selectors, limit/continue), WATCH (chunked JSON lines,
// bookmarks, 410 Expired after compaction), over http or https (tls option), POST, PUT and /status, PATCH (merge, strategic-as-merge, JSON
// patch, server-side apply with field managers, force and 409 conflicts), DELETE, resourceVersion
// preconditions (409 Conflict) and dryRun. Left out: authn/authz, admission, defaulting, validation,
// garbage collection, attach/proxy, list snapshots across pages (limit/continue is an offset), list-map merge keys (lists are atomic under apply). Pod exec
// is opt-in: serveExec in exec.ts.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Server, createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { randomUUID } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { KubeConfig } from "@kubernetes/client-node";
import { applyJsonPatch, mergePatch, type JsonObject } from "./patch.ts";
import { ownedPaths, applyOwnership, updateOwnership, type FieldOwners } from "./ownership.ts";
import { KINDS, findKind, type KindInfo } from "./kinds.ts";
import { matchesSelectors } from "./selectors.ts";
import { isAllowed, serviceAccountUser, verbOf } from "./rbac.ts";

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: JsonObject;
  resourceVersion: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  status: number;
}

export interface ApiServerOptions {
  /** How often an open watch with allowWatchBookmarks=true gets a BOOKMARK event. */
  bookmarkIntervalMs?: number;
  /** Serve https with this certificate (e.g. test/arm/tls.ts's); plain http without it. */
  tls?: { cert: string; key: string };
}

/** Who a kubeconfig authenticates as: the admin (default) or a service account, whose RBAC is enforced. */
export interface Identity {
  serviceAccount?: { namespace: string; name: string };
}

export const ADMIN_TOKEN = "test-token";
const SERVICE_ACCOUNT_TOKEN = /^sa:([^:]+):(.+)$/;

interface StoredObject {
  kind: KindInfo;
  object: JsonObject;
  owners: FieldOwners;
}

class HttpError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: JsonObject | undefined;

  constructor(code: number, reason: string, message: string, details?: JsonObject) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

export class ApiServer {
  url = "";
  readonly requests: RequestRecord[] = [];
  private readonly objects = new Map<string, StoredObject>();
  private readonly history: WatchEvent[] = [];
  private readonly watchers = new Set<(event: WatchEvent) => void>();
  private readonly requestWatchers = new Set<(record: RequestRecord) => void>();
  private revision = 1;
  /** Watches that start before this revision get 410 Expired, as after etcd compaction. */
  private compactedBefore = 0;
  private readonly http;
  private readonly bookmarkIntervalMs: number;
  private readonly faults: Array<{ match: (method: string, path: string) => boolean; code: number }> = [];

  constructor(options: ApiServerOptions = {}) {
    const handler = (request: IncomingMessage, response: ServerResponse) =>
      void this.handle(request, response);
    this.http = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    for (const name of ["default", "kube-system"]) {
      this.put({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    }
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    const scheme = this.http instanceof Server ? "https" : "http";
    this.url = `${scheme}://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  kubeConfig(identity: Identity = {}): KubeConfig {
    const account = identity.serviceAccount;
    const token = account ? `sa:${account.namespace}:${account.name}` : ADMIN_TOKEN;
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: "test", server: this.url, skipTLSVerify: true }],
      users: [{ name: "test", token }],
      contexts: [{ name: "test", cluster: "test", user: "test", namespace: "default" }],
      currentContext: "test",
    });
    return config;
  }

  /** The kubeconfig file text for commands run as a user would (`--kubeconfig FILE`). */
  kubeconfigYaml(): string {
    return this.kubeConfig().exportConfig();
  }

  // ---- direct store access for tests (plays the other controllers of a cluster) ----

  get(apiVersion: string, kind: string, name: string, namespace?: string): JsonObject | undefined {
    const info = findKind(apiVersion, kind);
    return this.objects.get(key(info, namespace, name))?.object;
  }

  list(apiVersion: string, kind: string, namespace?: string): JsonObject[] {
    const info = findKind(apiVersion, kind);
    return [...this.objects.values()]
      .filter((stored) => stored.kind === info && (!namespace || meta(stored.object).namespace === namespace))
      .map((stored) => stored.object);
  }

  /** Creates or replaces an object as a controller inside the cluster would (no preconditions). */
  put(object: JsonObject): JsonObject {
    const info = findKind(String(object.apiVersion), String(object.kind));
    const metadata = meta(object);
    const existing = this.objects.get(
      key(info, metadata.namespace as string | undefined, String(metadata.name)),
    );
    return this.store(info, structuredClone(object), existing, existing?.owners ?? new Map());
  }

  remove(apiVersion: string, kind: string, name: string, namespace?: string): void {
    const info = findKind(apiVersion, kind);
    const stored = this.objects.get(key(info, namespace, name));
    if (stored) this.drop(stored);
  }

  /** Forgets watch history, so a watch from an older resourceVersion gets 410 Expired. */
  compact(): void {
    this.compactedBefore = this.revision;
    this.history.length = 0;
  }

  /** The next request matching gets this status code instead of being served. */
  failNext(match: (method: string, path: string) => boolean, code: number): void {
    this.faults.push({ match, code });
  }

  /** Hands HTTP upgrade requests (pod exec's WebSocket) to `listener`; see exec.ts. */
  onUpgrade(listener: (request: IncomingMessage, socket: Duplex) => void): void {
    this.http.on("upgrade", listener);
  }

  /** Calls `listener` for every change (tests use it to play the DaemonSet controller, the kubelet, ...). */
  onChange(listener: (event: WatchEvent) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Calls `listener` after every request has been answered (or, for a watch, has started). */
  onRequest(listener: (record: RequestRecord) => void): () => void {
    this.requestWatchers.add(listener);
    return () => this.requestWatchers.delete(listener);
  }

  writes(filter: (record: RequestRecord) => boolean = () => true): RequestRecord[] {
    return this.requests.filter((r) => r.method !== "GET" && filter(r));
  }

  // ---- HTTP ----

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const record: RequestRecord = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      contentType: request.headers["content-type"],
      status: 200,
    };
    this.requests.push(record);
    try {
      const faultIndex = this.faults.findIndex((fault) => fault.match(record.method, record.path));
      if (faultIndex >= 0) {
        const [fault] = this.faults.splice(faultIndex, 1);
        throw new HttpError(fault!.code, "InternalError", "injected fault");
      }
      this.authorize(record, request.headers.authorization);
      const body = await readBody(request);
      const result = this.route(record, body, response);
      if (result === undefined) return; // a watch: the response stays open
      record.status = result.code;
      send(response, result.code, result.body);
    } catch (error) {
      const failure =
        error instanceof HttpError
          ? error
          : (error as { code?: unknown }).code === 422
            ? new HttpError(422, "Invalid", (error as Error).message)
            : new HttpError(500, "InternalError", (error as Error).message);
      record.status = failure.code;
      send(response, failure.code, statusBody(failure));
    }
    for (const listener of this.requestWatchers) listener(record);
  }

  /** The admin token may do anything; a service account only what the stored RBAC objects allow it. */
  private authorize(record: RequestRecord, authorization: string | undefined): void {
    const token = authorization?.replace(/^Bearer /, "");
    if (token === ADMIN_TOKEN) return;
    const account = SERVICE_ACCOUNT_TOKEN.exec(token ?? "");
    if (!account) throw new HttpError(401, "Unauthorized", "Unauthorized");
    const segments = record.path.split("/").filter(Boolean);
    if (segments.length <= 3 && (segments[0] === "api" || segments[0] === "apis")) return; // discovery
    const target = resolvePath(segments);
    const user = serviceAccountUser(account[1]!, account[2]!);
    const resource = target.subresource
      ? `${target.kind.resource}/${target.subresource}`
      : target.kind.resource;
    const verb = verbOf(record.method, target.name !== undefined, record.query.get("watch") === "true");
    const rbacObjects = [...this.objects.values()]
      .filter((stored) => stored.kind.group === "rbac.authorization.k8s.io")
      .map((stored) => stored.object);
    const request = {
      user,
      verb,
      apiGroup: target.kind.group,
      resource,
      name: target.name,
      namespace: target.namespace,
    };
    if (!isAllowed(rbacObjects, request)) {
      const scope = target.namespace ? `in the namespace "${target.namespace}"` : "at the cluster scope";
      throw new HttpError(
        403,
        "Forbidden",
        `${resource} "${target.name ?? ""}" is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${target.kind.group}" ${scope}`,
      );
    }
  }

  private route(
    record: RequestRecord,
    body: string,
    response: ServerResponse,
  ): { code: number; body: unknown } | undefined {
    const segments = record.path.split("/").filter(Boolean);
    const discovery = this.discovery(segments);
    if (discovery) return { code: 200, body: discovery };

    const target = resolvePath(segments);
    const method = record.method;
    const dryRun = record.query.get("dryRun") === "All";
    if (!target.name) {
      if (method === "GET" && record.query.get("watch") === "true") {
        this.watch(target, record.query, response);
        return undefined;
      }
      if (method === "GET") return { code: 200, body: this.listBody(target, record.query) };
      if (method === "POST") return { code: 201, body: this.create(target, parseJson(body), dryRun) };
      throw new HttpError(405, "MethodNotAllowed", `${method} is not supported on a collection`);
    }
    const stored = this.objects.get(key(target.kind, target.namespace, target.name));
    switch (method) {
      case "GET":
        if (!stored) throw notFound(target);
        return { code: 200, body: stored.object };
      case "PUT":
        if (!stored) throw notFound(target);
        return {
          code: 200,
          body: this.replace(stored, parseJson(body), target.subresource, record.query, dryRun),
        };
      case "PATCH":
        return this.patch(target, stored, body, record, dryRun);
      case "DELETE": {
        if (!stored) throw notFound(target);
        if (!dryRun) this.drop(stored);
        return { code: 200, body: stored.object };
      }
      default:
        throw new HttpError(405, "MethodNotAllowed", `${method} is not supported`);
    }
  }

  private discovery(segments: string[]): unknown {
    const path = segments.join("/");
    if (path === "api") return { kind: "APIVersions", versions: ["v1"] };
    if (path === "apis") {
      const groups = [...new Set(KINDS.filter((k) => k.group).map((k) => `${k.group}/${k.version}`))];
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: groups.map((groupVersion) => {
          const [name, version] = groupVersion.split("/");
          const preferred = { groupVersion, version };
          return { name, versions: [preferred], preferredVersion: preferred };
        }),
      };
    }
    const groupVersion =
      path === "api/v1"
        ? "v1"
        : segments[0] === "apis" && segments.length === 3
          ? `${segments[1]}/${segments[2]}`
          : undefined;
    if (!groupVersion) return undefined;
    const kinds = KINDS.filter((k) => k.apiVersion === groupVersion);
    if (kinds.length === 0) throw new HttpError(404, "NotFound", `the server could not find ${path}`);
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion,
      resources: kinds.flatMap((k) => [
        {
          name: k.resource,
          singularName: k.kind.toLowerCase(),
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
        },
        ...(k.hasStatus
          ? [
              {
                name: `${k.resource}/status`,
                singularName: "",
                namespaced: k.namespaced,
                kind: k.kind,
                verbs: ["get", "patch", "update"],
              },
            ]
          : []),
      ]),
    };
  }

  private listBody(target: Target, query: URLSearchParams): JsonObject {
    const items = [...this.objects.values()]
      .filter((stored) => stored.kind === target.kind)
      .filter((stored) => !target.namespace || meta(stored.object).namespace === target.namespace)
      .map((stored) => stored.object)
      .filter((object) => matchesSelectors(object, query.get("labelSelector"), query.get("fieldSelector")))
      .sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
    // limit/continue: the token is the offset into the sorted list (no snapshot: a page reads the
    // objects as they are when it is asked for, unlike etcd).
    const limit = Number(query.get("limit") ?? "0");
    const offset = Number(query.get("continue") ?? "0");
    const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
    const more = limit > 0 && offset + limit < items.length;
    return {
      apiVersion: target.kind.apiVersion,
      kind: `${target.kind.kind}List`,
      metadata: {
        resourceVersion: String(this.revision),
        ...(more ? { continue: String(offset + limit) } : {}),
      },
      items: page,
    };
  }

  private watch(target: Target, query: URLSearchParams, response: ServerResponse): void {
    response.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    const write = (event: unknown) => response.write(`${JSON.stringify(event)}\n`);
    const relevant = (event: WatchEvent) =>
      findKind(String(event.object.apiVersion), String(event.object.kind)) === target.kind &&
      (!target.namespace || meta(event.object).namespace === target.namespace) &&
      matchesSelectors(event.object, query.get("labelSelector"), query.get("fieldSelector"));
    const since = Number(query.get("resourceVersion") ?? "0");
    if (since > 0 && since < this.compactedBefore) {
      write({
        type: "ERROR",
        object: statusBody(
          new HttpError(410, "Expired", `too old resource version: ${since} (${this.compactedBefore})`),
        ),
      });
      response.end();
      return;
    }
    if (since === 0) {
      for (const stored of this.objects.values()) {
        const event = { type: "ADDED" as const, object: stored.object, resourceVersion: 0 };
        if (relevant(event)) write({ type: event.type, object: event.object });
      }
    } else {
      for (const event of this.history) {
        if (event.resourceVersion > since && relevant(event))
          write({ type: event.type, object: event.object });
      }
    }
    const listener = (event: WatchEvent) => {
      if (relevant(event)) write({ type: event.type, object: event.object });
    };
    this.watchers.add(listener);
    const timers: NodeJS.Timeout[] = [];
    if (query.get("allowWatchBookmarks") === "true") {
      timers.push(
        setInterval(
          () =>
            write({
              type: "BOOKMARK",
              object: {
                apiVersion: target.kind.apiVersion,
                kind: target.kind.kind,
                metadata: { resourceVersion: String(this.revision) },
              },
            }),
          this.bookmarkIntervalMs,
        ),
      );
    }
    const timeoutSeconds = Number(query.get("timeoutSeconds") ?? "0");
    if (timeoutSeconds > 0) timers.push(setTimeout(() => response.end(), timeoutSeconds * 1000));
    const stop = () => {
      this.watchers.delete(listener);
      timers.forEach((timer) => clearInterval(timer));
    };
    response.on("close", stop);
  }

  private create(target: Target, object: JsonObject, dryRun: boolean): JsonObject {
    const metadata = meta(object);
    if (!metadata.name && typeof metadata.generateName === "string") {
      metadata.name = `${metadata.generateName}${randomUUID().slice(0, 5)}`;
    }
    if (!metadata.name) throw new HttpError(422, "Invalid", "metadata.name: Required value");
    if (target.kind.namespaced) {
      metadata.namespace = target.namespace ?? metadata.namespace ?? "default";
      this.requireNamespace(String(metadata.namespace));
    }
    if (this.objects.has(key(target.kind, metadata.namespace as string | undefined, String(metadata.name)))) {
      throw new HttpError(
        409,
        "AlreadyExists",
        `${target.kind.resource} "${String(metadata.name)}" already exists`,
        {
          name: String(metadata.name),
          kind: target.kind.resource,
        },
      );
    }
    object.apiVersion = target.kind.apiVersion;
    object.kind = target.kind.kind;
    const owners: FieldOwners = new Map();
    updateOwnership(owners, "unknown", undefined, object);
    return dryRun ? object : this.store(target.kind, object, undefined, owners);
  }

  private replace(
    stored: StoredObject,
    object: JsonObject,
    subresource: string | undefined,
    query: URLSearchParams,
    dryRun: boolean,
  ): JsonObject {
    const sentVersion = meta(object).resourceVersion;
    if (sentVersion !== undefined && sentVersion !== meta(stored.object).resourceVersion) {
      throw conflict(stored);
    }
    const next = this.merged(stored, object, subresource);
    updateOwnership(stored.owners, query.get("fieldManager") ?? "unknown", stored.object, next);
    return dryRun ? next : this.store(stored.kind, next, stored, stored.owners);
  }

  private patch(
    target: Target,
    stored: StoredObject | undefined,
    body: string,
    record: RequestRecord,
    dryRun: boolean,
  ): { code: number; body: unknown } {
    const contentType = (record.contentType ?? "").split(";")[0];
    const manager = record.query.get("fieldManager");
    if (contentType === "application/apply-patch+yaml") {
      if (!manager) throw new HttpError(400, "BadRequest", "fieldManager is required for apply patch");
      const applied = parseYaml(body) as JsonObject;
      const force = record.query.get("force") === "true";
      if (!stored) {
        const created = this.create(
          target,
          { ...applied, metadata: { ...meta(applied), name: target.name } },
          dryRun,
        );
        const owners: FieldOwners = new Map();
        applyOwnership(owners, manager, created, applied, true);
        meta(created).managedFields = ownedPaths(owners, target.kind.apiVersion);
        if (!dryRun) this.objects.get(key(target.kind, target.namespace, target.name!))!.owners = owners;
        return { code: 201, body: created };
      }
      const working: FieldOwners = new Map([...stored.owners].map(([path, owner]) => [path, new Set(owner)]));
      const next = structuredClone(stored.object);
      const conflicts = applyOwnership(working, manager, next, applied, force);
      if (conflicts.length > 0) {
        throw new HttpError(409, "Conflict", `Apply failed with ${conflicts.length} conflict(s)`, {
          name: target.name!,
          kind: target.kind.resource,
          causes: conflicts.map((c) => ({
            reason: "FieldManagerConflict",
            message: `conflict with "${c.manager}"`,
            field: c.path,
          })),
        });
      }
      if (dryRun) return { code: 200, body: next };
      stored.owners = working;
      const unchanged = JSON.stringify(next) === JSON.stringify(stored.object);
      return { code: 200, body: unchanged ? stored.object : this.store(target.kind, next, stored, working) };
    }
    if (!stored) throw notFound(target);
    const patchBody = parseJson(body) as unknown;
    let next: JsonObject;
    if (contentType === "application/json-patch+json") {
      if (!Array.isArray(patchBody))
        throw new HttpError(400, "BadRequest", "a JSON patch must be an array of operations");
      next = applyJsonPatch(stored.object, patchBody as JsonObject[]);
    } else if (
      contentType === "application/merge-patch+json" ||
      contentType === "application/strategic-merge-patch+json"
    ) {
      const sentVersion = meta(patchBody as JsonObject).resourceVersion;
      if (sentVersion !== undefined && sentVersion !== meta(stored.object).resourceVersion)
        throw conflict(stored);
      next = mergePatch(stored.object, patchBody as JsonObject);
    } else {
      throw new HttpError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format: ${contentType}`,
      );
    }
    const result = this.merged(stored, next, target.subresource);
    updateOwnership(stored.owners, manager ?? "unknown", stored.object, result);
    if (dryRun) return { code: 200, body: result };
    const unchanged = JSON.stringify(result) === JSON.stringify(stored.object);
    return {
      code: 200,
      body: unchanged ? stored.object : this.store(target.kind, result, stored, stored.owners),
    };
  }

  /** A write to the main resource keeps the status; a write to /status changes only the status. */
  private merged(stored: StoredObject, next: JsonObject, subresource: string | undefined): JsonObject {
    const result = structuredClone(next);
    result.metadata = {
      ...meta(stored.object),
      ...(subresource === "status" ? {} : pickUserMetadata(meta(next))),
    };
    if (stored.kind.hasStatus) {
      if (subresource === "status") {
        for (const field of Object.keys(result))
          if (!["apiVersion", "kind", "metadata", "status"].includes(field)) delete result[field];
        for (const [field, value] of Object.entries(stored.object))
          if (field !== "status" && field !== "metadata") result[field] = value;
      } else if (stored.object.status !== undefined) {
        result.status = stored.object.status;
      } else {
        delete result.status;
      }
    }
    return result;
  }

  private store(
    kind: KindInfo,
    object: JsonObject,
    previous: StoredObject | undefined,
    owners: FieldOwners,
  ): JsonObject {
    const metadata = meta(object);
    this.revision += 1;
    metadata.resourceVersion = String(this.revision);
    metadata.uid = previous ? meta(previous.object).uid : (metadata.uid ?? randomUUID());
    metadata.creationTimestamp = previous
      ? meta(previous.object).creationTimestamp
      : new Date().toISOString();
    const previousGeneration = previous ? Number(meta(previous.object).generation ?? 1) : 0;
    const specChanged = !previous || JSON.stringify(previous.object.spec) !== JSON.stringify(object.spec);
    metadata.generation = specChanged ? previousGeneration + 1 : previousGeneration;
    metadata.managedFields = ownedPaths(owners, kind.apiVersion);
    if (kind.kind === "Namespace") object.status = { phase: "Active" };
    const stored = { kind, object, owners };
    this.objects.set(key(kind, metadata.namespace as string | undefined, String(metadata.name)), stored);
    this.emit({ type: previous ? "MODIFIED" : "ADDED", object, resourceVersion: this.revision });
    return object;
  }

  private drop(stored: StoredObject): void {
    const metadata = meta(stored.object);
    this.objects.delete(key(stored.kind, metadata.namespace as string | undefined, String(metadata.name)));
    this.revision += 1;
    const object = { ...stored.object, metadata: { ...metadata, resourceVersion: String(this.revision) } };
    this.emit({ type: "DELETED", object, resourceVersion: this.revision });
    if (stored.kind.kind === "Namespace") {
      for (const other of [...this.objects.values()]) {
        if (meta(other.object).namespace === metadata.name) this.drop(other);
      }
    }
  }

  private emit(event: WatchEvent): void {
    this.history.push(event);
    for (const watcher of [...this.watchers]) watcher(event);
  }

  private requireNamespace(namespace: string): void {
    if (!this.objects.has(key(findKind("v1", "Namespace"), undefined, namespace))) {
      throw new HttpError(404, "NotFound", `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: "namespaces",
      });
    }
  }
}

export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  return new ApiServer(options).listen();
}

interface Target {
  kind: KindInfo;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

function resolvePath(segments: string[]): Target {
  let rest: string[];
  let apiVersion: string;
  if (segments[0] === "api" && segments[1] === "v1") {
    apiVersion = "v1";
    rest = segments.slice(2);
  } else if (segments[0] === "apis" && segments.length >= 4) {
    apiVersion = `${segments[1]}/${segments[2]}`;
    rest = segments.slice(3);
  } else {
    throw new HttpError(
      404,
      "NotFound",
      `the server could not find the requested resource: /${segments.join("/")}`,
    );
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const kind = KINDS.find((k) => k.apiVersion === apiVersion && k.resource === rest[0]);
  if (!kind)
    throw new HttpError(
      404,
      "NotFound",
      `the server could not find the requested resource: /${segments.join("/")}`,
    );
  return { kind, namespace, name: rest[1], subresource: rest[2] };
}

function key(kind: KindInfo, namespace: string | undefined, name: string): string {
  return `${kind.apiVersion}/${kind.resource}/${kind.namespaced ? (namespace ?? "default") : ""}/${name}`;
}

function objectKey(object: JsonObject): string {
  const metadata = meta(object);
  return `${String(metadata.namespace ?? "")}/${String(metadata.name)}`;
}

function meta(object: JsonObject): JsonObject {
  if (!object.metadata || typeof object.metadata !== "object") object.metadata = {};
  return object.metadata as JsonObject;
}

/** Metadata a client may change; the server keeps uid, resourceVersion, timestamps and managedFields. */
function pickUserMetadata(metadata: JsonObject): JsonObject {
  const {
    uid: _uid,
    resourceVersion: _rv,
    creationTimestamp: _ct,
    managedFields: _mf,
    generation: _g,
    ...rest
  } = metadata;
  return rest;
}

function notFound(target: Target): HttpError {
  return new HttpError(404, "NotFound", `${target.kind.resource} "${target.name}" not found`, {
    name: target.name ?? "",
    kind: target.kind.resource,
  });
}

function conflict(stored: StoredObject): HttpError {
  const name = String(meta(stored.object).name);
  return new HttpError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${stored.kind.resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, kind: stored.kind.resource },
  );
}

function statusBody(error: HttpError): JsonObject {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: error.message,
    reason: error.reason,
    ...(error.details ? { details: error.details } : {}),
    code: error.code,
  };
}

function send(response: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

function parseJson(body: string): JsonObject {
  try {
    return JSON.parse(body) as JsonObject;
  } catch {
    throw new HttpError(400, "BadRequest", "the request body is not valid JSON");
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
