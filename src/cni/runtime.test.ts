import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CniError, CniRuntime, loadConflist, type Attachment } from "./runtime.ts";
import type { Conflist, PluginConf } from "./schema.ts";
import { UserError } from "../errors/user-error.ts";

const FAKE = resolve(import.meta.dirname, "../../test/fixtures/fake-cni-plugin.ts");

interface Call {
  command: string;
  type: string;
  env: Record<string, string>;
  config: Record<string, unknown>;
}

let dir: string;
let log: string;
let runtime: CniRuntime;

const attachment: Attachment = {
  containerId: "c1",
  netns: "/run/netns/pod1",
  ifName: "eth0",
  args: [
    ["K8S_POD_NAMESPACE", "default"],
    ["K8S_POD_NAME", "web"],
  ],
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], bandwidth: {} },
};

function conflist(...plugins: PluginConf[]): Conflist {
  return { cniVersion: "1.0.0", name: "testnet", plugins };
}

async function calls(): Promise<Call[]> {
  const text = await readFile(log, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Call);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cni-runtime-"));
  log = join(dir, "calls.log");
  process.env.FAKE_CNI_LOG = log;
  await mkdir(join(dir, "bin"));
  for (const type of ["first", "second"]) {
    const plugin = join(dir, "bin", type);
    await writeFile(plugin, `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`);
    await chmod(plugin, 0o755);
  }
  runtime = new CniRuntime({
    pluginDirs: [join(dir, "empty"), join(dir, "bin")],
    cacheDir: join(dir, "cache"),
  });
});

afterEach(async () => {
  delete process.env.FAKE_CNI_LOG;
  await rm(dir, { recursive: true, force: true });
});

describe("CniRuntime", () => {
  it("runs ADD in order, passes each result on as prevResult and returns the last", async () => {
    const list = conflist({ type: "first" }, { type: "second", capabilities: { portMappings: true } });
    const result = await runtime.add(list, attachment);
    expect(result.interfaces).toEqual([{ name: "first-eth0" }, { name: "second-eth0" }]);
    const [first, second] = await calls();
    expect(first!.type).toBe("first");
    expect(first!.config.prevResult).toBeUndefined();
    expect(second!.config.prevResult).toEqual({
      cniVersion: "1.0.0",
      interfaces: [{ name: "first-eth0" }],
      ips: [],
    });
  });

  it("sets the CNI_* variables and injects name, cniVersion and only the declared capabilities", async () => {
    await runtime.add(
      conflist({ type: "first" }, { type: "second", capabilities: { portMappings: true } }),
      attachment,
    );
    const [first, second] = await calls();
    expect(first!.env).toMatchObject({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/run/netns/pod1",
      CNI_IFNAME: "eth0",
      CNI_PATH: `${join(dir, "empty")}:${join(dir, "bin")}`,
      CNI_ARGS: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web",
    });
    expect(first!.config).toMatchObject({ name: "testnet", cniVersion: "1.0.0" });
    expect(first!.config.runtimeConfig).toBeUndefined();
    expect(second!.config.runtimeConfig).toEqual({ portMappings: attachment.capabilityArgs!.portMappings });
  });

  it("runs DEL in reverse order with the cached result, then forgets it; DEL again still succeeds", async () => {
    const list = conflist({ type: "first" }, { type: "second" });
    const added = await runtime.add(list, attachment);
    await runtime.del(list, attachment);
    const dels = (await calls()).filter((call) => call.command === "DEL");
    expect(dels.map((call) => call.type)).toEqual(["second", "first"]);
    expect(dels[0]!.config.prevResult).toEqual(added);
    expect(await runtime.cachedResult(list, attachment)).toBeUndefined();
    await runtime.del(list, attachment);
    const second = (await calls()).filter((call) => call.command === "DEL").slice(2);
    expect(second.map((call) => call.config.prevResult)).toEqual([undefined, undefined]);
  });

  it("runs CHECK with the cached result and refuses CHECK without one", async () => {
    const list = conflist({ type: "first" }, { type: "second" });
    await expect(runtime.check(list, attachment)).rejects.toMatchObject({ code: 3, command: "CHECK" });
    const added = await runtime.add(list, attachment);
    await runtime.check(list, attachment);
    const checks = (await calls()).filter((call) => call.command === "CHECK");
    expect(checks.map((call) => call.type)).toEqual(["first", "second"]);
    expect(checks.every((call) => JSON.stringify(call.config.prevResult) === JSON.stringify(added))).toBe(
      true,
    );
  });

  it("turns the plugin's error JSON into a typed CniError and stops the chain", async () => {
    const list = conflist({ type: "first", failOn: "ADD" }, { type: "second" });
    const error = await runtime.add(list, attachment).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CniError);
    expect(error).toMatchObject({
      code: 11,
      msg: "try later",
      details: "busy",
      plugin: "first",
      command: "ADD",
    });
    expect((await calls()).map((call) => call.type)).toEqual(["first"]);
    expect(await runtime.cachedResult(list, attachment)).toBeUndefined();
  });

  it("reports a plugin missing from CNI_PATH", async () => {
    await expect(runtime.add(conflist({ type: "nosuch" }), attachment)).rejects.toMatchObject({
      code: 4,
      plugin: "nosuch",
    });
  });
});

describe("loadConflist", () => {
  it("reads a conflist and rejects a file that is not one", async () => {
    const good = join(dir, "good.conflist");
    await writeFile(good, JSON.stringify(conflist({ type: "first" })));
    expect((await loadConflist(good)).name).toBe("testnet");
    const bad = join(dir, "bad.conflist");
    await writeFile(bad, JSON.stringify({ name: "x", plugins: [{}] }));
    await expect(loadConflist(bad)).rejects.toBeInstanceOf(UserError);
  });

  it("reads a single-plugin .conf as a list of one", async () => {
    const file = join(dir, "10-one.conf");
    await writeFile(file, JSON.stringify({ cniVersion: "0.4.0", name: "one", type: "first", mtu: 1400 }));
    expect(await loadConflist(file)).toEqual({
      cniVersion: "0.4.0",
      name: "one",
      plugins: [{ type: "first", mtu: 1400 }],
    });
  });
});
