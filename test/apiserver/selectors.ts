// Label and field selectors as the Kubernetes API evaluates them (part of the in-test API server):
// labels `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`; fields `path=v`, `path!=v`.
import type { JsonObject } from "./patch.ts";

export function matchesSelectors(
  object: JsonObject,
  labelSelector: string | null,
  fieldSelector: string | null,
): boolean {
  const metadata = (object.metadata ?? {}) as JsonObject;
  const labels = (metadata.labels ?? {}) as Record<string, string>;
  return (
    splitTerms(labelSelector).every((term) => matchLabel(labels, term)) &&
    splitTerms(fieldSelector).every((term) => matchField(object, term))
  );
}

function splitTerms(selector: string | null): string[] {
  if (!selector) return [];
  return selector
    .split(/,(?![^(]*\))/)
    .map((term) => term.trim())
    .filter(Boolean);
}

function matchLabel(labels: Record<string, string>, term: string): boolean {
  const set = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(term);
  if (set) {
    const values = set[3]!.split(",").map((v) => v.trim());
    const has = set[1]! in labels && values.includes(labels[set[1]!]!);
    return set[2] === "in" ? has : !has;
  }
  if (term.startsWith("!")) return !(term.slice(1) in labels);
  const pair = /^([^!=]+)(!=|==|=)(.*)$/.exec(term);
  if (!pair) return term in labels;
  const equal = labels[pair[1]!] === pair[3];
  return pair[2] === "!=" ? !equal : equal;
}

function matchField(object: JsonObject, term: string): boolean {
  const pair = /^([^!=]+)(!=|==|=)(.*)$/.exec(term);
  if (!pair) return false;
  const value = pair[1]!
    .split(".")
    .reduce<unknown>((node, part) => (node as JsonObject | undefined)?.[part], object);
  const equal = String(value ?? "") === pair[3];
  return pair[2] === "!=" ? !equal : equal;
}
