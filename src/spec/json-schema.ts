// The JSON Schema editors use to complete and check cluster spec files, generated from the zod schema.
import { z } from "zod";
import { ClusterSpecSchema } from "./schema.ts";

export const JSON_SCHEMA_FILE = "schema/cluster-spec.schema.json";

export function clusterSpecJsonSchema(): string {
  // "input": what users write (defaults optional); the final transform only fills in defaults.
  const schema = z.toJSONSchema(ClusterSpecSchema, { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ ...schema, title: "aks-ipvlan cluster spec" }, null, 2)}\n`;
}
