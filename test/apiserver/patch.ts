// JSON merge patch (RFC 7386) and JSON patch (RFC 6902) as the API server applies them (part of the in-test API server).
export type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = structuredClone(target);
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete result[field];
    else if (isObject(value)) result[field] = mergePatch(isObject(result[field]) ? result[field] : {}, value);
    else result[field] = structuredClone(value);
  }
  return result;
}

function pointer(path: string): string[] {
  return path
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
}

class PatchFailure extends Error {
  readonly code = 422;
}

export function applyJsonPatch(target: JsonObject, operations: JsonObject[]): JsonObject {
  const root: JsonObject = structuredClone(target);
  for (const operation of operations) {
    const parts = pointer(String(operation.path));
    const last = parts.pop()!;
    const parent = parts.reduce<unknown>((node, part) => (node as JsonObject | undefined)?.[part], root) as
      JsonObject | unknown[] | undefined;
    if (parent === undefined || typeof parent !== "object")
      throw new PatchFailure(`path ${String(operation.path)} not found`);
    const index = Array.isArray(parent) ? (last === "-" ? parent.length : Number(last)) : undefined;
    switch (operation.op) {
      case "add":
        if (Array.isArray(parent)) parent.splice(index!, 0, operation.value);
        else parent[last] = operation.value;
        break;
      case "replace":
        if (Array.isArray(parent)) parent[index!] = operation.value;
        else parent[last] = operation.value;
        break;
      case "remove":
        if (Array.isArray(parent)) parent.splice(index!, 1);
        else delete parent[last];
        break;
      case "test": {
        const current = Array.isArray(parent) ? parent[index!] : parent[last];
        if (JSON.stringify(current) !== JSON.stringify(operation.value)) {
          throw new PatchFailure(`test operation failed at ${String(operation.path)}`);
        }
        break;
      }
      default:
        throw new PatchFailure(`unsupported JSON patch op ${String(operation.op)}`);
    }
  }
  return root;
}
