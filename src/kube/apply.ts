// Server-side apply of a set of objects, reporting for each whether it was created, configured or
// left unchanged. Objects we already manage are applied with force (our field manager owns them);
// an object someone else created is applied without force, so a conflict stops us instead of
// silently taking fields away from its owner.
import { isDeepStrictEqual } from "node:util";
import { FIELD_MANAGER, KubeApiError, type KubeApi, type KubeObject, type ObjectRef } from "./client.ts";

type Change = "created" | "configured" | "unchanged";

export interface Applied {
  ref: ObjectRef;
  change: Change;
}

/** Another field manager owns fields we set on an object we did not create. */
export class ApplyConflictError extends Error {
  readonly ref: ObjectRef;

  constructor(ref: ObjectRef, error: KubeApiError) {
    const fields = (error.status.details?.causes ?? [])
      .map((cause) => cause.field ?? cause.message)
      .join(", ");
    super(
      `${describeRef(ref)} exists and is managed by someone else${fields ? ` (conflicting fields: ${fields})` : ""}.` +
        `\n  fix: delete it (kubectl delete ${ref.kind.toLowerCase()} ${ref.name}${
          ref.namespace ? ` -n ${ref.namespace}` : ""
        }) and rerun install, or rename ours in the spec`,
    );
    this.name = "ApplyConflictError";
    this.ref = ref;
  }
}

export function refOf(object: KubeObject): ObjectRef {
  const { apiVersion, kind } = object;
  const { name, namespace } = object.metadata;
  return namespace ? { apiVersion, kind, name, namespace } : { apiVersion, kind, name };
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

/** Namespaces first, so namespaced objects always have somewhere to go; otherwise the given order. */
export function applyOrder(objects: readonly KubeObject[]): KubeObject[] {
  return [...objects.filter(isNamespace), ...objects.filter((object) => !isNamespace(object))];
}

function isOurs(object: KubeObject): boolean {
  return (object.metadata.managedFields ?? []).some((entry) => entry.manager === FIELD_MANAGER);
}

export async function applyObjects(
  api: KubeApi,
  objects: readonly KubeObject[],
  options: { dryRun: boolean },
): Promise<Applied[]> {
  const results: Applied[] = [];
  const pendingNamespaces = new Set<string>();
  for (const object of applyOrder(objects)) {
    const ref = refOf(object);
    const before = await api.get(ref);
    // A dry run cannot place objects in a namespace it only pretended to create.
    if (options.dryRun && ref.namespace && pendingNamespaces.has(ref.namespace)) {
      results.push({ ref, change: "created" });
      continue;
    }
    let after: KubeObject;
    try {
      after = await api.apply(object, {
        dryRun: options.dryRun,
        force: before === undefined || isOurs(before),
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 409) throw new ApplyConflictError(ref, error);
      throw error;
    }
    if (!before && isNamespace(object)) pendingNamespaces.add(ref.name);
    results.push({ ref, change: changeOf(before, after, options.dryRun) });
  }
  return results;
}

function changeOf(before: KubeObject | undefined, after: KubeObject, dryRun: boolean): Change {
  if (!before) return "created";
  // A dry run stores nothing, so the resourceVersion stays put even when the object would change.
  if (dryRun) return isDeepStrictEqual(comparable(before), comparable(after)) ? "unchanged" : "configured";
  return before.metadata.resourceVersion === after.metadata.resourceVersion ? "unchanged" : "configured";
}

// What the server keeps for itself and changes on every write, whatever we sent.
function comparable(object: KubeObject): unknown {
  const { metadata, status: _status, ...rest } = object;
  const { resourceVersion: _rv, managedFields: _mf, generation: _gen, ...meta } = metadata;
  return { ...rest, metadata: meta };
}

function isNamespace(object: KubeObject): boolean {
  return object.kind === "Namespace" && object.apiVersion === "v1";
}
