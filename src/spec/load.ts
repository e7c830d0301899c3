// Reading a cluster spec from YAML text or a file, turning every problem into a Finding.
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ClusterSpecSchema, type ClusterSpec } from "./schema.ts";
import { UserError, formatPath, valueAt, type Finding } from "../errors/user-error.ts";
import { CONFIG_MAP_MAX_BYTES, MAX_YAML_ALIASES } from "./limits.ts";
import { readBounded } from "../sys/read-bounded.ts";

export function parseSpec(text: string, source = "spec"): ClusterSpec {
  if (Buffer.byteLength(text) > CONFIG_MAP_MAX_BYTES) throw tooLarge(source, Buffer.byteLength(text));
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new UserError(
      document.errors.map((error) => ({
        path: source,
        message: `invalid YAML: ${error.message.split("\n")[0]!.replace(/:$/, "")}`,
        fix: "correct the YAML syntax at the line and column named",
      })),
    );
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    throw new UserError([
      {
        path: source,
        message: `YAML aliases expand too far: ${(error as Error).message}`,
        fix: `write the values out instead of using more than ${MAX_YAML_ALIASES} aliases (*name)`,
      },
    ]);
  }
  return validateSpec(value ?? {});
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
