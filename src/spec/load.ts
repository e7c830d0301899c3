// Reading a cluster spec from YAML text or a file, turning every problem into a Finding.
import { parseDocument, visit } from "yaml";
import type { z } from "zod";
import { ClusterSpecSchema, type ClusterSpec } from "./schema.ts";
import { UserError, formatPath, valueAt, type Finding } from "../errors/user-error.ts";
import { CONFIG_MAP_MAX_BYTES, MAX_YAML_ALIASES } from "./limits.ts";
import { readBounded } from "../sys/read-bounded.ts";

export function parseSpec(text: string, source = "spec"): ClusterSpec {
  if (Buffer.byteLength(text) > CONFIG_MAP_MAX_BYTES) throw tooLarge(source, Buffer.byteLength(text));
  // YAML 1.2 breaks lines at CR LF, CR or LF (b-break); the parser knows only the first two.
  const document = parseDocument(text.replace(/\r\n?/g, "\n"), { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new UserError(
      document.errors.map((error) => ({
        path: source,
        message: `invalid YAML: ${error.message.split("\n")[0]!.replace(/:$/, "")}`,
        fix: "correct the YAML syntax at the line and column named",
      })),
    );
  }
  const aliases = countAliases(document);
  const refuse = (message: string, fix: string): never => {
    throw new UserError([{ path: source, message, fix }]);
  };
  if (aliases > MAX_YAML_ALIASES) {
    refuse(
      `${aliases} YAML aliases, more than the ${MAX_YAML_ALIASES} a spec may hold`,
      `write the values out instead of using more than ${MAX_YAML_ALIASES} aliases (*name)`,
    );
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
  } catch (error) {
    refuse(
      `YAML aliases expand too far: ${(error as Error).message}`,
      "write the values out instead of aliases of aliases (*name)",
    );
  }
  if (isCyclic(value)) {
    refuse(
      "a YAML alias refers to the node that holds it (a value that contains itself)",
      "replace the alias (*name) inside its own anchor (&name) with the value written out",
    );
  }
  return validateSpec(value ?? {});
}

/**
 * What yaml's maxAliasCount counts is the expansion (an alias of a list of aliases counts each), so
 * the budget is above MAX_YAML_ALIASES plain aliases and far below a "billion laughs" (9 levels of 9).
 */
const MAX_ALIAS_EXPANSION = 10 * MAX_YAML_ALIASES;

function countAliases(document: ReturnType<typeof parseDocument>): number {
  let count = 0;
  visit(document, {
    Alias: () => {
      count++;
    },
  });
  return count;
}

/** Whether a value holds itself (an alias inside its own anchor), which nothing can print or check. */
function isCyclic(value: unknown, holding = new Set<object>()): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (holding.has(value)) return true;
  holding.add(value);
  const cyclic = Object.values(value).some((item) => isCyclic(item, holding));
  holding.delete(value);
  return cyclic;
}

function tooLarge(source: string, bytes?: number): UserError {
  return new UserError([
    {
      path: source,
      ...(bytes === undefined ? {} : { value: `${bytes} bytes` }),
      message: `the spec is larger than ${CONFIG_MAP_MAX_BYTES} bytes, the most the ConfigMap that carries it holds`,
      fix: "remove what the spec does not need (nodes are listed by name and IP only)",
    },
  ]);
}

export function validateSpec(value: unknown): ClusterSpec {
  const result = ClusterSpecSchema.safeParse(value);
  if (!result.success) throw new UserError(result.error.issues.map((issue) => toFinding(issue, value)));
  return result.data;
}

export async function loadSpec(file: string): Promise<ClusterSpec> {
  let text: string;
  try {
    text = readBounded(file, { maxBytes: CONFIG_MAP_MAX_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EFBIG") throw tooLarge(file);
    throw new UserError([
      {
        path: "--config",
        value: file,
        message: `cannot read the spec file: ${(error as Error).message}`,
        fix: "pass the path of a cluster spec YAML file, e.g. examples/seed.yaml",
      },
    ]);
  }
  return parseSpec(text, file);
}

function toFinding(issue: z.core.$ZodIssue, root: unknown): Finding {
  const path = formatPath(issue.path);
  const value = valueAt(root, issue.path);
  const params = (issue as { params?: { fix?: string } }).params;
  const shown = issue.code === "unrecognized_keys" ? issue.keys : value;
  return { path, value: shown, message: issue.message, fix: params?.fix ?? genericFix(issue) };
}

function genericFix(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return `remove ${issue.keys.join(", ")} or check the spelling against schema/cluster-spec.schema.json`;
    case "invalid_type":
      return issue.input === undefined
        ? `add the required field (a ${issue.expected}); see examples/seed.yaml`
        : `give a value of type ${issue.expected}`;
    case "invalid_value":
      return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return `use a value of at least ${String(issue.minimum)}`;
    case "too_big":
      return `use a value of at most ${String(issue.maximum)}`;
    default:
      return "see schema/cluster-spec.schema.json for the allowed values";
  }
}
