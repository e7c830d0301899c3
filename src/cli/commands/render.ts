// `aks-ipvlan render`: the files computed from the spec — each node's CNI config and rules payload plus
// the Kubernetes manifests, or the seed's two files — printed, or written into a directory.
import type { Command } from "commander";
import { mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../../errors/user-error.ts";
import { loadSpec } from "../../spec/load.ts";
import type { ClusterSpec } from "../../spec/schema.ts";
import { type NodePlan, plan } from "../../ipam/planner.ts";
import { CONFLIST_FILE, conflistText, renderConflist } from "../../cni/conflist.ts";
import { renderNodeRules } from "../../noderules/rules.ts";
import { manifestsText, renderManifests } from "../../manifests/render.ts";
import { renderSeedCompatible } from "../../manifests/seed-compatible.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";

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

function nodeFiles(spec: ClusterSpec, node: NodePlan): Record<string, string> {
  const rules = renderNodeRules(spec, node);
  const jumps = rules.jumps.map(
    (jump) =>
      `# jump, ensured separately: -t ${jump.table} ${jump.position === "first" ? "-I" : "-A"} ${jump.chain} ${jump.spec.join(" ")}`,
  );
  return {
    [`nodes/${node.name}/${CONFLIST_FILE}`]: conflistText(renderConflist(spec, node)),
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

/** Writes every file into a fresh sibling temp directory, then renames it (or each file) into place. */
async function writeTree(out: string, files: Record<string, string>): Promise<void> {
  const target = resolve(out);
  const existing = await stat(target).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new UserError([
      { path: "--out", value: out, message: "exists and is not a directory", fix: "name a directory" },
    ]);
  }
  await mkdir(dirname(target), { recursive: true });
  const temp = await mkdtemp(join(dirname(target), `.${basename(target)}.tmp-`));
  try {
    for (const [path, content] of Object.entries(files)) await writeFileAtomic(join(temp, path), content);
    if (!existing) {
      await rename(temp, target);
      return;
    }
    for (const path of Object.keys(files)) {
      await mkdir(dirname(join(target, path)), { recursive: true });
      await rename(join(temp, path), join(target, path));
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
