// The agent image, built here without a registry (scripts/image/build.ts, cached) and run: its OCI
// layout is whole (every digest is its blob's), its config (entry point, command, user, environment) is
// what the DaemonSet runs, it holds no compiler and no development dependency, and the agent started
// from its root file system on each node of the testbed (User-Mode Linux or the machine's kernel)
// reaches ready and passes the node checks.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { createGunzip } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseSpec } from "../../src/spec/load.ts";
import { agentDaemonSet } from "../../src/manifests/agent.ts";
import { ENTRYPOINT } from "../../src/manifests/names.ts";
import { REQUIRED_PLUGINS } from "../../src/cni/conflist.ts";
import { CONFLIST_FILE } from "../../src/cni/conflist.ts";
import { run } from "../../src/sys/exec.ts";
import { runInGuest } from "../../src/testbed/run.ts";
import { agentImage, type AgentImage } from "./image.ts";
import { ImageResultSchema, type ImageJob } from "./image-result.ts";
import { ROOT } from "./packed.ts";
import { RuntimeConfigSchema } from "../../scripts/image/dockerfile.ts";

const BUILD_TIMEOUT_MS = 60 * 60_000;
const GUEST_TIMEOUT_MS = 30 * 60_000;
const spec = parseSpec(readFileSync(join(ROOT, "examples/seed.yaml"), "utf8"));
const podSpec = agentDaemonSet(spec).spec!.template.spec!;
const agent = podSpec.containers.find((c) => c.name === "agent")!;

const Descriptor = z.looseObject({ mediaType: z.string(), digest: z.string(), size: z.number() });
const IndexSchema = z.looseObject({ manifests: z.array(Descriptor).length(1) });
const ManifestSchema = z.looseObject({ config: Descriptor, layers: z.array(Descriptor).length(1) });
const ConfigSchema = z.looseObject({
  architecture: z.literal("amd64"),
  os: z.literal("linux"),
  config: RuntimeConfigSchema,
  rootfs: z.strictObject({ type: z.literal("layers"), diff_ids: z.array(z.string()).length(1) }),
});

let image: AgentImage;
const blob = (digest: string) => join(image.oci, "blobs/sha256", digest.replace(/^sha256:/, ""));
const readBlob = <T>(digest: string, schema: z.ZodType<T>) =>
  schema.parse(JSON.parse(readFileSync(blob(digest), "utf8")));

async function sha256Of(file: string, gunzip = false): Promise<string> {
  const hash = createHash("sha256");
  const stream = createReadStream(file);
  for await (const chunk of gunzip ? stream.pipe(createGunzip()) : stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

function layout() {
  const index = IndexSchema.parse(JSON.parse(readFileSync(join(image.oci, "index.json"), "utf8")));
  const manifest = readBlob(index.manifests[0]!.digest, ManifestSchema);
  const config = readBlob(manifest.config.digest, ConfigSchema);
  return { index, manifest, config };
}

beforeAll(async () => {
  image = await agentImage();
  const { manifest } = layout();
  const rootfsMb = Number((await run("du", ["-sm", image.rootfs])).stdout.split("\t")[0]);
  const layerMb = (manifest.layers[0]!.size / 1e6).toFixed(1);
  const built = image.warm ? "cached" : `built in ${Math.round(image.buildMs! / 1000)} s`;
  console.log(`image ${image.hash}: ${built}; root file system ${rootfsMb} MB, layer ${layerMb} MB gzip`);
}, BUILD_TIMEOUT_MS);

describe("the agent image built without a registry", () => {
  it("is a whole OCI layout: each descriptor's digest and size are its blob's", async () => {
    const { index, manifest, config } = layout();
    expect(JSON.parse(readFileSync(join(image.oci, "oci-layout"), "utf8"))).toEqual({
      imageLayoutVersion: "1.0.0",
    });
    for (const descriptor of [index.manifests[0]!, manifest.config, manifest.layers[0]!]) {
      expect(await sha256Of(blob(descriptor.digest))).toBe(descriptor.digest);
      expect(statSync(blob(descriptor.digest)).size).toBe(descriptor.size);
    }
    expect(await sha256Of(blob(manifest.layers[0]!.digest), true)).toBe(config.rootfs.diff_ids[0]);
  });

  it("starts as the DaemonSet runs it: entry point, command, user and environment", () => {
    const { config } = layout().config;
    expect(config.Entrypoint).toEqual([...ENTRYPOINT]);
    expect(agent.command).toEqual(config.Entrypoint);
    expect(agent.args).toEqual(config.Cmd);
    expect(config.User).toBe("0");
    expect(agent.securityContext?.runAsUser ?? 0).toBe(0);
    expect(config.WorkingDir).toBe("/app");
    expect(config.Env).toContain("NODE_ENV=production");
    // `node` of the entry point is found on the image's PATH, and the program it runs is there.
    const path = config.Env.find((e) => e.startsWith("PATH="))!
      .slice(5)
      .split(":");
    expect(path.some((dir) => existsSync(join(image.rootfs, dir, config.Entrypoint[0]!)))).toBe(true);
    expect(existsSync(join(image.rootfs, config.Entrypoint[1]!))).toBe(true);
    for (const plugin of REQUIRED_PLUGINS) {
      expect(existsSync(join(image.rootfs, "opt/aks-ipvlan/cni-bin", plugin)), plugin).toBe(true);
    }
  });

  it("holds no compiler, no sources and no development dependency", async () => {
    for (const tool of ["gcc", "cc", "c++", "make", "tsc", "npm"]) {
      expect({ tool, found: existsSync(join(image.rootfs, "usr/bin", tool)) }).toEqual({
        tool,
        found: false,
      });
    }
    expect(existsSync(join(image.rootfs, "app/src"))).toBe(false);
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const dev = Object.entries(lock.packages).filter(
      ([path, entry]) => entry.dev && path.startsWith("node_modules/"),
    );
    expect(dev.length).toBeGreaterThan(0);
    for (const [path] of dev)
      expect({ path, found: existsSync(join(image.rootfs, "app", path)) }).toEqual({ path, found: false });
    const version = await run("chroot", [image.rootfs, "node", "--version"]);
    expect(version.stdout).toMatch(/^v22\./);
  });

  it(
    "runs the agent from its root file system on every testbed node: ready, /readyz, the node checks pass",
    async () => {
      const job: Omit<ImageJob, "specFile"> = { rootfs: image.rootfs, config: layout().config.config };
      const { result, runner } = await runInGuest({
        entry: resolve(import.meta.dirname, "image-guest.ts"),
        spec,
        job,
        schema: ImageResultSchema,
        timeoutMs: GUEST_TIMEOUT_MS,
      });
      expect(result.error).toBeUndefined();
      // The testbed sets its nodes up at once: in any order.
      const agents = result.agents.toSorted((a, b) => a.node.localeCompare(b.node));
      expect(agents.map((a) => a.node)).toEqual(spec.nodes.map((n) => n.name).sort());
      for (const run of agents) {
        console.log(`${runner}: ${run.node}'s agent from the image ready in ${run.startToReadyMs} ms`);
        // The control: nothing in the node's conf dir but what the image's agent wrote.
        expect(run.confBefore).toEqual([]);
        expect(run.confAfter).toEqual([CONFLIST_FILE]);
        expect(run.readyz).toBe("ready\n");
        expect(run.root).toBe(`/run/image-e2e/containers/${run.node}`);
        expect(run.exe).toBe(`/run/image-e2e/containers/${run.node}/usr/local/bin/node`);
        for (const plugin of REQUIRED_PLUGINS) expect(run.installCni).toContain(`/${plugin}\n`);
      }
      expect(result.suite.length).toBeGreaterThan(5);
      expect(result.suite.filter((check) => check.status === "fail")).toEqual([]);
    },
    GUEST_TIMEOUT_MS,
  );
});
