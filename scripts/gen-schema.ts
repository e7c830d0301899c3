// Writes schema/cluster-spec.schema.json from the zod schema (npm run schema); a test keeps it current.
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../src/sys/atomic-write.ts";
import { JSON_SCHEMA_FILE, clusterSpecJsonSchema } from "../src/spec/json-schema.ts";

const target = fileURLToPath(new URL(`../${JSON_SCHEMA_FILE}`, import.meta.url));
const written = await writeFileAtomic(target, clusterSpecJsonSchema());
process.stdout.write(`${JSON_SCHEMA_FILE} ${written ? "written" : "unchanged"}\n`);
