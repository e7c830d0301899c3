// `aks-ipvlan lint`: checks CNI config files (or directories of them); exit 1 when any error is found.
import type { Command } from "commander";
import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../../errors/user-error.ts";
import { loadSpec } from "../../spec/load.ts";
import { type Plan, plan } from "../../ipam/planner.ts";
import { lintCniConfig } from "../../cni/lint.ts";
import { formatSeverityFinding, useColour } from "../output.ts";

const CNI_FILE = /\.(conf|conflist|json)$/;

export function register(program: Command): void {
  program
    .command("lint")
    .description("check CNI config files (.conf, .conflist) for the failures of the seed and DATAPATH.md")
    .argument("<paths...>", "files, or directories whose .conf/.conflist/.json files are checked")
    .option("--config <file>", "cluster spec: also check ranges against node IPs and other nodes' blocks")
    .action(async (paths: string[], flags: { config?: string }) => {
      const planned: Plan | undefined = flags.config ? plan(await loadSpec(flags.config)) : undefined;
      const files = (await Promise.all(paths.map(expand))).flat();
      const texts = await Promise.all(files.map((file) => readFile(file, "utf8")));
      const colour = useColour();
      let errors = 0;
      files.forEach((file, index) => {
        const findings = lintCniConfig(texts[index]!, file, planned);
        errors += findings.filter((finding) => finding.severity === "error").length;
        const body = findings
          .map((finding) => formatSeverityFinding(finding.severity, finding, colour))
          .join("");
        process.stdout.write(findings.length === 0 ? `${file}: ok\n` : `${file}:\n${body}`);
      });
      if (errors > 0) process.exitCode = 1;
    });
}

async function expand(path: string): Promise<string[]> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new UserError([
      {
        path: "PATH",
        value: path,
        message: `cannot read: ${error.code ?? String(error)}`,
        fix: "name an existing CNI config file or directory",
      },
    ]);
  });
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((name) => CNI_FILE.test(name)).sort();
  if (names.length === 0) {
    throw new UserError([
      {
        path: "PATH",
        value: path,
        message: "no .conf, .conflist or .json files in this directory",
        fix: "name a CNI config directory such as /etc/cni/net.d",
      },
    ]);
  }
  return names.map((name) => join(path, name));
}
