// `aks-ipvlan render`: the files computed from the spec — each node's CNI config and rules payload, the
// Kubernetes manifests and how pods reach other nodes (routing mode, pod MTU, the route table's or the
// overlay's entries), or the seed's two files — printed, or written into a directory.
import type { Command } from "commander";
import { stringify } from "yaml";
import { lstat, mkdtemp, readFile, readdir, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../../errors/user-error.ts";
import { makeDirectory } from "../../sys/atomic-write.ts";
import { withNodeLock } from "../../sys/node-lock.ts";
import { loadSpec } from "../../spec/load.ts";
import type { ClusterSpec } from "../../spec/schema.ts";
import { type NodePlan, type Plan, plan } from "../../ipam/planner.ts";
import type { OverlayPeer } from "../../ipam/overlay-peers.ts";
import { CONFLIST_FILE } from "../../cni/conflist.ts";
import { DEFAULT_PATHS, desiredNode } from "../../agent/desired.ts";
import { manifestsText, renderManifests } from "../../manifests/render.ts";
import { renderSeedCompatible } from "../../manifests/seed-compatible.ts";

export const MANIFESTS_FILE = "manifests.yaml";
export const RULES_FILE = "rules.iptables";
const ROUTING_FILE = "routing.yaml";
/** vxlan: per node, the overlay entries that node programs (every other node's blocks and IP). */
const OVERLAY_FILE = "overlay.yaml";

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
      if (flags.out !== undefined) {
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
  const planned = plan(spec);
  const nodes = selectNodes(planned.nodes, flags.node);
  if (flags.seedCompatible) return renderSeedCompatible(spec, nodes);
  return {
    ...(flags.node
      ? {}
      : {
          [MANIFESTS_FILE]: manifestsText(renderManifests(spec)),
          [ROUTING_FILE]: routingText(planned),
        }),
    ...Object.fromEntries(nodes.flatMap((node) => Object.entries(nodeFiles(spec, node, planned.overlay)))),
  };
}

/** The routing mode, the pods' MTU, and the route table's (vnet) or the overlay's (vxlan) entries. */
function routingText(planned: Plan): string {
  const { routingMode, podMtu, routes, overlay } = planned;
  return [
    `# routing.mode ${routingMode}: ${routingMode === "vnet" ? "the Azure route table's entries, block -> node" : "every node's blocks and IP: the other nodes route them through their VXLAN device to that IP"}`,
    ...(podMtu === undefined ? ["# pod MTU: the master interface's"] : []),
    stringify({
      mode: routingMode,
      ...(podMtu === undefined ? {} : { podMtu }),
      ...(routingMode === "vnet" ? { routes } : { overlay }),
    }),
  ].join("\n");
}

/** The node's files as the agent would apply them: the same desired state, from src/agent/desired.ts. */
function nodeFiles(
  spec: ClusterSpec,
  node: NodePlan,
  overlay: readonly OverlayPeer[],
): Record<string, string> {
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
    ...(spec.routing.mode === "vxlan"
      ? {
          [`nodes/${node.name}/${OVERLAY_FILE}`]: [
            `# the overlay entries ${node.name} programs: each other node's blocks through its VXLAN device to that node's IP`,
            stringify({ peers: overlay.filter((peer) => peer.name !== node.name) }),
          ].join("\n"),
        }
      : {}),
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

/**
 * Every render writes this list of the files it wrote (one relative path a line) beside them. A
 * directory is replaced only when every file in it is on its list: a render never deletes a file it
 * did not write (a user's own manifests.yaml, a note inside nodes/node1/), it refuses instead.
 */
const RENDERED_LIST = ".aks-ipvlan-rendered";

/**
 * Builds the whole tree in a fresh sibling directory, then swaps it in with renames: the target holds
 * the earlier render or the new one, never a mix, and files of the earlier render that this one does
 * not produce are gone. Renders into one parent take turns (flock on the parent directory), and each
 * removes the temporary trees of renders that were killed. On any error the target is as it was.
 */
async function writeTree(out: string, files: Record<string, string>): Promise<void> {
  const target = await renderTarget(out);
  const parent = dirname(target);
  const temps = `.${basename(target)}.new-`;
  await writing(out, () =>
    withNodeLock(parent, async () => {
      await refuseForeign(out, target);
      for (const name of await readdir(parent)) {
        if (name.startsWith(temps)) await rm(join(parent, name), { recursive: true, force: true });
      }
      const temp = await mkdtemp(join(parent, temps));
      try {
        const written = { ...files, [RENDERED_LIST]: `${Object.keys(files).join("\n")}\n` };
        for (const [path, content] of Object.entries(written)) {
          await makeDirectory(dirname(join(temp, path)));
          await writeFile(join(temp, path), content);
        }
        let previous: string | undefined;
        if (await exists(target)) {
          await rename(target, `${temp}.old`);
          previous = `${temp}.old`;
        }
        try {
          await rename(temp, target);
        } catch (error) {
          if (previous) await rename(previous, target);
          throw error;
        }
        if (previous) await rm(previous, { recursive: true, force: true });
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    }),
  );
}

/** The directory to replace: --out with symbolic links resolved, its parent created. */
async function renderTarget(out: string): Promise<string> {
  const refuse = (message: string, fix: string): never => {
    throw new UserError([{ path: "--out", value: out, message, fix }]);
  };
  if (out.trim() === "")
    refuse("is empty", "name a directory, e.g. --out rendered (or leave --out out to print)");
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
  if (!parentInfo) await writing(out, () => makeDirectory(parent));
  // Whether the target is ours is judged under the parent's lock (writeTree): out here, a concurrent
  // render may be swapping it, and its list of files read mid-swap would make its own files foreign.
  return target;
}

/** Refuses a target that is not a directory, or holds a file no render recorded writing. */
async function refuseForeign(out: string, target: string): Promise<void> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return;
  const refuse = (message: string): never => {
    throw new UserError([
      {
        path: "--out",
        value: out,
        message,
        fix: "name a new or empty directory, or an earlier render's (move your own files out of it)",
      },
    ]);
  };
  if (!info.isDirectory()) refuse("exists and is not a directory");
  const present = await writing(out, () => filesUnder(target));
  if (present.length === 0) return;
  const listed = await readFile(join(target, RENDERED_LIST), "utf8").then(
    (text) => new Set([RENDERED_LIST, ...text.split("\n").filter(Boolean)]),
    () => new Set<string>(),
  );
  const foreign = present.filter((path) => !listed.has(path));
  if (foreign.length > 0) {
    refuse(
      `holds files no render wrote (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", ..." : ""}); render replaces the whole directory and deletes nothing it did not write`,
    );
  }
}

/** Every non-directory below `root`, as relative paths with '/'. */
async function filesUnder(root: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      return entry.isDirectory() ? filesUnder(root, path) : Promise.resolve([path]);
    }),
  );
  return nested.flat();
}

/**
 * A file system failure while writing --out (read-only, full, a mount point) is a runtime failure,
 * exit 1, with the system's own cause; nothing was changed.
 */
async function writing<T>(out: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UserError || !(error as NodeJS.ErrnoException).code) throw error;
    throw new Error(`--out ${out}: cannot write there: ${(error as Error).message}`, { cause: error });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
