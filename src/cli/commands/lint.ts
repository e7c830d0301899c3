// `aks-ipvlan lint`: checks CNI config files (or directories of them); exit 1 when any error is found.
import type { Command } from "commander";
import { readdir, stat } from "node:fs/promises";
import { readBounded } from "../../sys/read-bounded.ts";
import { join } from "node:path";
import { UserError } from "../../errors/user-error.ts";
import { loadSpec } from "../../spec/load.ts";
import { type Plan, plan } from "../../ipam/planner.ts";
import { type LintFinding, lintCniConfig, shadowedFinding, usesIpvlan } from "../../cni/lint.ts";
import { MAX_CNI_CONFIG_BYTES, configNamesIn, networkConfigs } from "../../cni/conf-dir.ts";
import { formatSeverityFinding, useColour } from "../output.ts";

export function register(program: Command): void {
  program
    .command("lint")
    .description("check CNI config files (.conf, .conflist) for the failures of the seed and DATAPATH.md")
    .argument("<paths...>", "files, or directories whose .conf/.conflist/.json files are checked")
    .option("--config <file>", "cluster spec: also check ranges against node IPs and other nodes' blocks")
    .action(async (paths: string[], flags: { config?: string }) => {
      const planned: Plan | undefined = flags.config ? plan(await loadSpec(flags.config)) : undefined;
      const targets = (await Promise.all(paths.map(expand))).flat();
      const colour = useColour();
      let errors = 0;
      for (const target of targets) {
        const findings = await lintTarget(target, planned);
        errors += findings.filter((finding) => finding.severity === "error").length;
        const body = findings
          .map((finding) => formatSeverityFinding(finding.severity, finding, colour))
          .join("");
        process.stdout.write(findings.length === 0 ? `${target.file}: ok\n` : `${target.file}:\n${body}`);
      }
      if (errors > 0) process.exitCode = 1;
    });
}

interface Target {
  file: string;
  /** In a directory: the file the runtime uses instead of this one, when it is not the first. */
  firstInDir?: string;
  /** A directory named like a config file: libcni skips it. */
  folder?: boolean;
}

/** A file that cannot be read is a finding about that file, like a syntax error in it. */
async function lintTarget(target: Target, planned: Plan | undefined): Promise<LintFinding[]> {
  if (target.folder) {
    return [
      {
        severity: "warning",
        path: "",
        message: "a directory named like a network config: the runtime skips it",
        fix: "rename or remove the directory",
      },
    ];
  }
  let text: string;
  try {
    text = readBounded(target.file, { maxBytes: MAX_CNI_CONFIG_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const why = ["EFBIG", "ETIMEDOUT", "ENODEV"].includes(code) ? (error as Error).message : code;
    return [
      {
        severity: "error",
        path: "",
        message: `cannot read: ${why}${code === "EISDIR" ? " (a directory named like a config file)" : ""}: the runtime cannot load it either`,
        fix:
          code === "EISDIR"
            ? "rename or remove the directory"
            : "make the file readable (chmod 644) or remove it",
      },
    ];
  }
  const findings = lintCniConfig(text, target.file, planned);
  if (target.firstInDir && usesIpvlan(text)) findings.unshift(shadowedFinding(target.firstInDir));
  return findings;
}

async function expand(path: string): Promise<Target[]> {
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
  if (!info.isDirectory()) return [{ file: path }];
  const names = networkConfigs(
    await configNamesIn(path).catch((error: NodeJS.ErrnoException) => {
      throw new UserError([
        {
          path: "PATH",
          value: path,
          message: `cannot list the directory: ${error.code ?? String(error)}`,
          fix: "run as a user allowed to read it (root on a node)",
        },
      ]);
    }),
  );
  const folders = networkConfigs(await readdir(path)).filter((name) => !names.includes(name));
  if (names.length === 0 && folders.length === 0) {
    throw new UserError([
      {
        path: "PATH",
        value: path,
        message: "no .conf, .conflist or .json files in this directory",
        fix: "name a CNI config directory such as /etc/cni/net.d",
      },
    ]);
  }
  return [
    ...names.map((name, index) => ({
      file: join(path, name),
      ...(index > 0 ? { firstInDir: names[0]! } : {}),
    })),
    ...folders.map((name) => ({ file: join(path, name), folder: true })),
  ];
}
