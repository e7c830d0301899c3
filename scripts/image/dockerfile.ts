// The Dockerfile's final stage read as data: the image's entry point, command, user, working directory
// and environment. The registry-free build (build.ts) writes its OCI config from it, so the Dockerfile
// stays the one place that says how the image starts, and the tests compare both with the manifests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export interface Instruction {
  instruction: string;
  value: string;
}

/** Instructions of the final stage (after the last FROM), continuation lines joined. */
export function finalStage(text: string): Instruction[] {
  const lines = text.replace(/\\\n/g, " ").split("\n");
  const stages: string[][] = [];
  for (const line of lines) {
    if (/^FROM /i.test(line)) stages.push([]);
    stages.at(-1)?.push(line);
  }
  return (stages.at(-1) ?? []).flatMap((line) => {
    const match = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    return match ? [{ instruction: match[1]!, value: match[2]! }] : [];
  });
}

const ExecForm = z.array(z.string()).min(1);
/** Debian's default PATH, as the node:22-slim base sets it (with /usr/local/bin, where node is). */
const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The OCI image config's `config` object (runtime defaults) the final stage describes. */
export const RuntimeConfigSchema = z.strictObject({
  Entrypoint: z.array(z.string()),
  Cmd: z.array(z.string()),
  User: z.string(),
  WorkingDir: z.string(),
  Env: z.array(z.string()),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;

export function runtimeConfig(dockerfile: string): RuntimeConfig {
  const stage = finalStage(dockerfile);
  const last = (name: string) => {
    const found = stage.filter((i) => i.instruction === name).at(-1);
    if (!found) throw new Error(`the Dockerfile's final stage has no ${name}`);
    return found.value;
  };
  const env = stage
    .filter((i) => i.instruction === "ENV")
    .map((i) => {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(\S+)$/.exec(i.value);
      if (!match) throw new Error(`ENV ${i.value}: only ENV NAME=value is understood here`);
      return `${match[1]}=${match[2]}`;
    });
  return {
    Entrypoint: ExecForm.parse(JSON.parse(last("ENTRYPOINT"))),
    Cmd: ExecForm.parse(JSON.parse(last("CMD"))),
    User: last("USER"),
    WorkingDir: last("WORKDIR"),
    Env: [`PATH=${BASE_PATH}`, ...env],
  };
}

export const DOCKERFILE = join(import.meta.dirname, "../../Dockerfile");
export const readDockerfile = () => readFileSync(DOCKERFILE, "utf8");
