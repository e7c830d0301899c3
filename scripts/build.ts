// `npm run build`: dist/ is the package's program. tsc compiles src/ (tests excluded), and every other
// file under src/ (the testbed guest's init.sh, the qemu runner's init, the UML XSAVE fix's C source:
// whatever the program reads beside its modules at run time) is copied to the same place under dist/,
// so a module finds its asset at the same path relative to itself from src/ (a clone) and from dist/
// (the installed package). dist/ is made afresh: nothing of an earlier build survives.
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../src/sys/exec.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");

/** Files under src/ that are not TypeScript: what tsc leaves behind. */
async function assets(): Promise<string[]> {
  const entries = await readdir(src, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.name.endsWith(".ts"))
    .map((entry) => relative(src, join(entry.parentPath, entry.name)));
}

await rm(dist, { recursive: true, force: true });
await run(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.build.json")]);
for (const asset of await assets()) {
  await mkdir(dirname(join(dist, asset)), { recursive: true });
  // copyFile keeps the content; the mode (init.sh is run by sh, not executed) does not matter here.
  await copyFile(join(src, asset), join(dist, asset));
  process.stdout.write(`dist/${asset}\n`);
}
