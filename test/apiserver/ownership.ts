// Server-side apply field ownership, simplified (part of the in-test API server): leaf fields are owned by
// field managers; applying a different value to a field another manager owns is a conflict unless forced;
// fields a manager stops applying are removed when nobody else owns them. Lists are atomic leaves.
import type { JsonObject } from "./patch.ts";

/** JSON-encoded path → managers that own it ("manager" for apply, "manager|Update" for updates). */
export type FieldOwners = Map<string, Set<string>>;

export interface ApplyConflict {
  path: string;
  manager: string;
}

const SERVER_FIELDS = new Set(["apiVersion", "kind", "status"]);
const SERVER_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
]);

function leaves(
  value: unknown,
  prefix: string[] = [],
  out = new Map<string, unknown>(),
): Map<string, unknown> {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [field, child] of Object.entries(value)) {
      if (prefix.length === 0 && SERVER_FIELDS.has(field)) continue;
      if (prefix.length === 1 && prefix[0] === "metadata" && SERVER_METADATA.has(field)) continue;
      leaves(child, [...prefix, field], out);
    }
  } else if (prefix.length > 0) {
    out.set(JSON.stringify(prefix), value);
  }
  return out;
}

function getAt(object: JsonObject, path: string[]): unknown {
  return path.reduce<unknown>((node, part) => (node as JsonObject | undefined)?.[part], object);
}

function setAt(object: JsonObject, path: string[], value: unknown): void {
  let node = object;
  for (const part of path.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as JsonObject;
  }
  node[path[path.length - 1]!] = structuredClone(value);
}

function deleteAt(object: JsonObject, path: string[]): void {
  const parent = getAt(object, path.slice(0, -1)) as JsonObject | undefined;
  if (parent) delete parent[path[path.length - 1]!];
}

/** Applies `applied` into `target` for `manager`; returns conflicts (and changes nothing) unless forced. */
export function applyOwnership(
  owners: FieldOwners,
  manager: string,
  target: JsonObject,
  applied: JsonObject,
  force: boolean,
): ApplyConflict[] {
  const wanted = leaves(applied);
  const conflicts: ApplyConflict[] = [];
  for (const [path, value] of wanted) {
    const current = getAt(target, JSON.parse(path) as string[]);
    if (JSON.stringify(current) === JSON.stringify(value)) continue;
    for (const other of owners.get(path) ?? []) {
      if (other !== manager)
        conflicts.push({ path: (JSON.parse(path) as string[]).join("."), manager: other.split("|")[0]! });
    }
  }
  if (conflicts.length > 0 && !force) return conflicts;
  for (const [path, managers] of [...owners]) {
    if (managers.has(manager) && !wanted.has(path)) {
      managers.delete(manager);
      if (managers.size === 0) {
        owners.delete(path);
        deleteAt(target, JSON.parse(path) as string[]);
      }
    }
  }
  for (const [path, value] of wanted) {
    const current = getAt(target, JSON.parse(path) as string[]);
    const changed = JSON.stringify(current) !== JSON.stringify(value);
    const managers = changed ? new Set<string>() : (owners.get(path) ?? new Set<string>());
    managers.add(manager);
    owners.set(path, managers);
    setAt(target, JSON.parse(path) as string[], value);
  }
  return [];
}

/** A non-apply write: the writer takes every field it changed. */
export function updateOwnership(
  owners: FieldOwners,
  manager: string,
  before: JsonObject | undefined,
  after: JsonObject,
): void {
  const old = before ? leaves(before) : new Map<string, unknown>();
  const now = leaves(after);
  for (const [path, value] of now) {
    if (!old.has(path) || JSON.stringify(old.get(path)) !== JSON.stringify(value))
      owners.set(path, new Set([`${manager}|Update`]));
  }
  for (const path of old.keys()) if (!now.has(path)) owners.delete(path);
}

/** metadata.managedFields as the API returns it (FieldsV1). */
export function ownedPaths(owners: FieldOwners, apiVersion: string): JsonObject[] {
  const byManager = new Map<string, JsonObject>();
  for (const [path, managers] of owners) {
    for (const owner of managers) {
      const tree = byManager.get(owner) ?? {};
      byManager.set(owner, tree);
      let node = tree;
      for (const part of JSON.parse(path) as string[]) {
        const field = `f:${part}`;
        node[field] = (node[field] as JsonObject | undefined) ?? {};
        node = node[field] as JsonObject;
      }
    }
  }
  return [...byManager].map(([owner, fieldsV1]) => {
    const [manager, operation] = owner.split("|");
    return { manager, operation: operation ?? "Apply", apiVersion, fieldsType: "FieldsV1", fieldsV1 };
  });
}
