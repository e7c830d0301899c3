// Reading a cluster spec from YAML text or a file, turning every problem into a Finding.
import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ClusterSpecSchema, type ClusterSpec } from "./schema.ts";
import { UserError, formatPath, type Finding } from "../errors/user-error.ts";

export function parseSpec(text: string, source = "spec"): ClusterSpec {
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
  return validateSpec(document.toJS() ?? {});
}

export function validateSpec(value: unknown): ClusterSpec {
  const result = ClusterSpecSchema.safeParse(value);
  if (!result.success) throw new UserError(result.error.issues.map((issue) => toFinding(issue, value)));
  return result.data;
}

export async function loadSpec(file: string): Promise<ClusterSpec> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UserError([
      {
        path: "--config",
        value: file,
        message: `cannot read the spec file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        fix: "pass the path of a cluster spec YAML file, e.g. examples/seed.yaml",
      },
    ]);
  }
  return parseSpec(text, file);
}

function toFinding(issue: z.core.$ZodIssue, root: unknown): Finding {
  const path = formatPath(issue.path);
  const value = issue.path.reduce<unknown>(
    (node, key) =>
      node && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined,
    root,
  );
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
