// `aks-ipvlan render`: the files computed from the spec — each node's CNI config and rules payload plus
// the Kubernetes manifests, or the seed's two files — printed, or written into a directory.
import type { Command } from "commander";
import { lstat, mkdir, mkdtemp, readdir, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../../errors/user-error.ts";
import { loadSpec } from "../../spec/load.ts";
import type { ClusterSpec } from "../../spec/schema.ts";
import { type NodePlan, plan } from "../../ipam/planner.ts";
import { CONFLIST_FILE } from "../../cni/conflist.ts";
import { DEFAULT_PATHS, desiredNode } from "../../agent/desired.ts";
import { manifestsText, renderManifests } from "../../manifests/render.ts";
import {
  SEED_CONFIG_FILE,
  SEED_MASQUERADE_FILE,
  renderSeedCompatible,
} from "../../manifests/seed-compatible.ts";

export const MANIFESTS_FILE = "manifests.yaml";
export const RULES_FILE = "rules.iptables";

interface Flags {
  config: string;
  node?: string;
  out?: string;
  seedCompatible?: boolean;
}

export function register(program: Command): void {
  program
    .command("render")
    .description(
      "render each node's CNI config and rules and the Kubernetes manifests (or the seed's two files)",
    )
    .requiredOption("--config <file>", "cluster spec (YAML)")
    .option("--node <name>", "only this node's files")
    .option("--out <dir>", "write the files into this directory (default: print them)")
    .option("--seed-compatible", "render ipv4-config-egress.yaml and ipv4-enable-masquerade.yaml instead")
    .action(async (flags: Flags) => {
      const files = await renderFiles(flags);
      if (flags.out) {
        await writeTree(flags.out, files);
        process.stdout.write(`wrote ${Object.keys(files).length} files to ${flags.out}\n`);
      } else {
        for (const [path, content] of Object.entries(files)) process.stdout.write(`### ${path}\n${content}`);
      }
    });
}

/** Relative path → content. Every problem surfaces here, before anything is written. */
export async function renderFiles(flags: Omit<Flags, "out">): Promise<Record<string, string>> {
  const spec = await loadSpec(flags.config);
  const nodes = selectNodes(plan(spec).nodes, flags.node);
  if (flags.seedCompatible) return renderSeedCompatible(spec, nodes);
  return {
    ...(flags.node ? {} : { [MANIFESTS_FILE]: manifestsText(renderManifests(spec)) }),
    ...Object.fromEntries(nodes.flatMap((node) => Object.entries(nodeFiles(spec, node)))),
  };
}

/** The node's files as the agent would apply them: the same desired state, from src/agent/desired.ts. */
function nodeFiles(spec: ClusterSpec, node: NodePlan): Record<string, string> {
  const { conflist, rules } = desiredNode(spec, node, DEFAULT_PATHS);
  const jumps = rules.jumps.map(
    (jump) =>
      `# jump, ensured separately: -t ${jump.table} ${jump.position === "first" ? "-I" : "-A"} ${jump.chain} ${jump.spec.join(" ")}`,
  );
  return {
    [`nodes/${node.name}/${CONFLIST_FILE}`]: conflist,
    [`nodes/${node.name}/${RULES_FILE}`]: [
      `# iptables-restore --noflush payload for ${node.name}`,
      ...jumps,
      rules.chains,
    ].join("\n"),
  };
}

function selectNodes(nodes: NodePlan[], name: string | undefined): NodePlan[] {
  if (name === undefined) return nodes;
  const node = nodes.find((candidate) => candidate.name === name);
  if (!node) {
    throw new UserError([
      {
        path: "--node",
        value: name,
        message: "no such node in the spec",
        fix: `use one of: ${nodes.map((n) => n.name).join(", ") || "(the spec lists no nodes)"}`,
      },
    ]);
  }
  return [node];
}

/** What an earlier render leaves at the top of its directory; a directory holding more is not ours. */
const RENDERED_NAMES = new Set([MANIFESTS_FILE, "nodes", SEED_CONFIG_FILE, SEED_MASQUERADE_FILE]);

/**
 * Builds the whole tree in a fresh sibling directory, then swaps it in with renames: the target holds
 * the earlier render or the new one, never a mix, and files of the earlier render that this one does
 * not produce are gone. On any error the target is as it was.
 */
async function writeTree(out: string, files: Record<string, string>): Promise<void> {
  const target = await renderTarget(out);
  const parent = dirname(target);
  const temp = await outPath(out, () => mkdtemp(join(parent, `.${basename(target)}.new-`)));
  let previous: string | undefined;
  try {
    await outPath(out, async () => {
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(temp, path)), { recursive: true });
        await writeFile(join(temp, path), content);
      }
    });
    if (await exists(target)) {
      previous = `${temp}.old`;
      await outPath(out, () => rename(target, previous!));
    }
    await outPath(out, () => rename(temp, target));
  } catch (error) {
    if (previous) await rename(previous, target);
    throw error;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  if (previous) await rm(previous, { recursive: true, force: true });
}

/** The directory to replace: --out with symbolic links resolved, its parent created, checked to be ours. */
async function renderTarget(out: string): Promise<string> {
  const refuse = (message: string, fix: string): never => {
    throw new UserError([{ path: "--out", value: out, message, fix }]);
  };
  const given = resolve(out);
  const link = await lstat(given).catch(() => undefined);
  const target = link?.isSymbolicLink()
    ? await realpath(given).catch(() =>
        refuse("is a symbolic link to nothing (dangling)", "remove the link or point it at a directory"),
      )
    : given;
  const parent = dirname(target);
  const parentInfo = await stat(parent).catch(() => undefined);
  if (parentInfo && !parentInfo.isDirectory()) {
    refuse(`its parent ${parent} is not a directory`, "name a directory whose parent is a directory");
  }
  if (!parentInfo) await outPath(out, () => mkdir(parent, { recursive: true }));
  const info = await stat(target).catch(() => undefined);
  if (!info) return target;
  if (!info.isDirectory())
    return refuse("exists and is not a directory", "name a new directory or an earlier render's");
  const foreign = (await outPath(out, () => readdir(target))).filter((name) => !RENDERED_NAMES.has(name));
  if (foreign.length > 0) {
    refuse(
      `holds files no render wrote (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", ..." : ""}); render replaces the whole directory`,
      "name a new or empty directory, or an earlier render's",
    );
  }
  return target;
}

/** A file system failure on the way to --out is a problem with the path given: exit 2, nothing written. */
async function outPath<T>(out: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!code) throw error;
    throw new UserError([
      {
        path: "--out",
        value: out,
        message: `cannot write there: ${(error as Error).message}`,
        fix: "name a directory you can write, on a file system with free space",
      },
    ]);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
