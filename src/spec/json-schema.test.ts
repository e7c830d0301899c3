import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { JSON_SCHEMA_FILE, clusterSpecJsonSchema } from "./json-schema.ts";

describe("the committed JSON Schema", () => {
  it("equals a fresh generation (run `npm run schema` after changing src/spec/schema.ts)", () => {
    const committed = readFileSync(new URL(`../../${JSON_SCHEMA_FILE}`, import.meta.url), "utf8");
    expect(committed).toBe(clusterSpecJsonSchema());
  });

  it("describes the fields users write, with their defaults", () => {
    const schema = JSON.parse(clusterSpecJsonSchema()) as {
      required: string[];
      properties: Record<string, { default?: unknown; enum?: unknown[] }>;
      additionalProperties: boolean;
    };
    expect(schema.required).toEqual(["nodeSubnet"]);
    expect(schema.properties.blockSize!.default).toBe(28);
    expect(schema.properties.mode!.enum).toEqual(["l3s"]);
    expect(schema.additionalProperties).toBe(false);
  });
});
