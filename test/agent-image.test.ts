// The Dockerfile (for users with a container engine), the rendered DaemonSet and the agent's own
// defaults agree: entry point, arguments, user, paths, mounts and the probed port. The image built here
// without a registry (scripts/image/build.ts, whose config is this Dockerfile's final stage) is built
// and run by test/package/image.test.ts.
import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { Command } from "commander";
import { parseSpec } from "../src/spec/load.ts";
import { agentDaemonSet } from "../src/manifests/agent.ts";
import {
  CNI_BIN_DIR,
  CNI_CONF_DIR,
  CONFIG_DIR,
  CONFIG_KEY,
  CONFIG_MAP_NAME,
  CONFIG_PATH,
  ENTRYPOINT,
  HOST_CNI_BIN_MOUNT,
  IMAGE_CNI_BIN_DIR,
  RUN_DIR,
  XTABLES_LOCK,
} from "../src/manifests/names.ts";
import { IPAM_DATA_DIR, REQUIRED_PLUGINS } from "../src/cni/conflist.ts";
import { DEFAULT_PATHS } from "../src/agent/desired.ts";
import { parseListen } from "../src/net/listen.ts";
import { register } from "../src/cli/commands/agent.ts";
import { finalStage } from "../scripts/image/dockerfile.ts";

const root = new URL("../", import.meta.url);
const dockerfile = readFileSync(new URL("Dockerfile", root), "utf8");
const dockerignore = readFileSync(new URL(".dockerignore", root), "utf8");
const buildConfig = JSON.parse(readFileSync(new URL("tsconfig.build.json", root), "utf8")) as {
  compilerOptions: { outDir: string; rootDir: string };
};
const spec = parseSpec(readFileSync(new URL("examples/seed.yaml", root), "utf8"));
const podSpec = agentDaemonSet(spec).spec!.template.spec!;
const agent = podSpec.containers.find((c) => c.name === "agent")!;
const init = podSpec.initContainers!.find((c) => c.name === "install-cni")!;

const stage = finalStage(dockerfile);
const value = (instruction: string) => stage.filter((i) => i.instruction === instruction).map((i) => i.value);

function hostPathOf(mountPath: string, container = agent): string | undefined {
  const mount = container.volumeMounts?.find((m) => m.mountPath === mountPath);
  return podSpec.volumes?.find((v) => v.name === mount?.name)?.hostPath?.path;
}

describe("the agent image, its DaemonSet and the agent agree", () => {
  it("runs the built CLI: Dockerfile ENTRYPOINT = DaemonSet command = tsc's output for src/cli/main.ts", () => {
    expect(value("FROM")).toEqual(["node:22-slim"]);
    expect(JSON.parse(value("ENTRYPOINT")[0]!)).toEqual([...ENTRYPOINT]);
    expect(agent.command).toEqual([...ENTRYPOINT]);
    expect(init.command).toEqual([...ENTRYPOINT]);
    const workdir = value("WORKDIR")[0];
    const built = `${workdir}/${buildConfig.compilerOptions.outDir}/cli/main.js`;
    expect(buildConfig.compilerOptions.rootDir).toBe("src");
    expect(ENTRYPOINT[1]).toBe(built);
    expect(value("COPY")).toContain(`--from=build /app/dist ./dist`);
    expect(dockerfile).toMatch(/RUN npm run build/);
    expect(dockerfile).toContain("COPY scripts/build.ts ./scripts/build.ts");
    for (const needed of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "scripts/build.ts",
      "src/",
    ]) {
      expect(dockerignore.split("\n")).toContain(`!${needed}`);
    }
  });

  it("defaults to the agent with the mounted spec, as the DaemonSet runs it", () => {
    expect(JSON.parse(value("CMD")[0]!)).toEqual(agent.args);
    expect(agent.args).toEqual(["agent", "--config", CONFIG_PATH]);
    const config = podSpec.volumes?.find((v) => v.configMap?.name === CONFIG_MAP_NAME);
    expect(agent.volumeMounts?.find((m) => m.name === config?.name)?.mountPath).toBe(CONFIG_DIR);
    expect(CONFIG_PATH).toBe(`${CONFIG_DIR}/${CONFIG_KEY}`);
    expect(agent.env).toContainEqual({
      name: "NODE_NAME",
      valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
    });
  });

  it("runs as root with the privileges the agent's writes need, in the node's network namespace", () => {
    expect(value("USER")).toEqual(["0"]);
    expect(agent.securityContext?.runAsNonRoot).not.toBe(true);
    expect(agent.securityContext?.runAsUser ?? 0).toBe(0);
    expect(agent.securityContext?.privileged).toBe(true);
    expect(podSpec.hostNetwork).toBe(true);
  });

  it("ships the CNI plugins where install-cni copies them from, to the node's CNI bin dir", () => {
    expect(dockerfile).toMatch(/apt-get install[^\n]*containernetworking-plugins/);
    expect(dockerfile).toContain(`cp /usr/lib/cni/* ${IMAGE_CNI_BIN_DIR}/`);
    // Debian's package (the same on this machine) has every plugin the conflist names.
    for (const plugin of REQUIRED_PLUGINS) expect(existsSync(`/usr/lib/cni/${plugin}`), plugin).toBe(true);
    expect(init.args).toEqual(["install-cni", "--from", IMAGE_CNI_BIN_DIR, "--to", HOST_CNI_BIN_MOUNT]);
    expect(hostPathOf(HOST_CNI_BIN_MOUNT, init)).toBe(CNI_BIN_DIR);
    expect(dockerfile).toMatch(/apt-get install[^\n]*\biptables\b[^\n]*\biproute2\b/);
  });

  it("mounts each host path the agent writes at the agent's default path", () => {
    const program = new Command();
    register(program);
    const command = program.commands.find((c) => c.name() === "agent")!;
    const defaultOf = (flag: string) => command.options.find((o) => o.long === flag)?.defaultValue as string;
    expect(defaultOf("--cni-conf-dir")).toBe(DEFAULT_PATHS.cniConfDir);
    expect(defaultOf("--cni-bin-dir")).toBe(DEFAULT_PATHS.cniBinDir);
    expect(defaultOf("--ipam-data-dir")).toBe(DEFAULT_PATHS.ipamDataDir);
    expect(hostPathOf(DEFAULT_PATHS.cniConfDir)).toBe(CNI_CONF_DIR);
    expect(hostPathOf(DEFAULT_PATHS.cniBinDir)).toBe(CNI_BIN_DIR);
    expect(DEFAULT_PATHS.ipamDataDir).toBe(IPAM_DATA_DIR);
    expect(DEFAULT_PATHS.ipamDataDir.startsWith(`${RUN_DIR}/`)).toBe(true);
    expect(hostPathOf(RUN_DIR)).toBe(RUN_DIR);
    // iptables-restore --wait takes this lock; it must be the node's, shared with kube-proxy.
    expect(hostPathOf(XTABLES_LOCK)).toBe("/run/xtables.lock");
  });

  it("probes the port the agent listens on by default, on loopback", () => {
    const listen = parseListen(spec.agent.listenAddress);
    expect(listen).toEqual({ host: "127.0.0.1", port: 9464 });
    for (const probe of [agent.readinessProbe, agent.livenessProbe]) {
      expect(probe?.httpGet).toMatchObject({ host: listen.host, port: listen.port });
    }
    expect(agent.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(agent.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(agent.args).not.toContain("--listen");
  });
});
