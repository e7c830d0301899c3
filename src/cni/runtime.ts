// The runtime side of the CNI spec, as containerd's libcni does it: run each plugin of a conflist with
// the CNI_* variables and its config on stdin, chain prevResult through ADD, DEL in reverse order, and
// CHECK against the result cached at ADD. The Runner decides where plugins run (the testbed runs them
// in the node's network namespace, where the ipvlan master is).
import { access, constants, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { CommandError, run as defaultRun, type Runner } from "../sys/exec.ts";
import { writeFileAtomic } from "../sys/atomic-write.ts";
import { UserError, formatPath } from "../errors/user-error.ts";
import { type Conflist, NetConfListSchema, NetConfSchema, type PluginConf, asConflist } from "./schema.ts";

export type CniCommand = "ADD" | "DEL" | "CHECK";

/** What the runtime knows about one attachment (libcni's RuntimeConf). */
export interface Attachment {
  containerId: string;
  /** Path of the pod's network namespace, e.g. /run/netns/pod1. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, e.g. K8S_POD_NAME. */
  args?: Array<[string, string]>;
  /** Values for the capabilities plugins declare, e.g. { portMappings: [...] }. */
  capabilityArgs?: Record<string, unknown>;
}

/** A plugin's error result ({code, msg, details}) or a failure to run it. */
export class CniError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly details: string;
  readonly plugin: string;
  readonly command: CniCommand;

  constructor(plugin: string, command: CniCommand, code: number, msg: string, details = "") {
    super(`CNI ${command} ${plugin}: ${msg}${details ? ` (${details})` : ""} [code ${code}]`);
    this.name = "CniError";
    this.code = code;
    this.msg = msg;
    this.details = details;
    this.plugin = plugin;
    this.command = command;
  }
}

/** The error codes the CNI spec reserves (1-99); plugins may use 100 and up. */
const CNI_ERRORS = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  containerUnknown: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
} as const;

/** A plugin's ADD result, passed on as prevResult as it came (each plugin reads its own parts). */
const CniResultSchema = z.record(z.string(), z.unknown());
export type CniResult = z.infer<typeof CniResultSchema>;

/** The error JSON a plugin prints when it fails (CNI spec, "Error"). */
const CniErrorSchema = z.looseObject({ code: z.number(), msg: z.string(), details: z.string().optional() });

/** What ADD leaves in the cache directory for CHECK and DEL (libcni's cache file). */
const CacheEntrySchema = z.object({
  kind: z.literal("cniCacheV1"),
  containerId: z.string(),
  ifName: z.string(),
  networkName: z.string(),
  config: NetConfListSchema,
  cniArgs: z.array(z.tuple([z.string(), z.string()])),
  capabilityArgs: z.record(z.string(), z.unknown()),
  result: CniResultSchema,
});
type CacheEntry = z.infer<typeof CacheEntrySchema>;

export interface CniRuntimeOptions {
  /** Directories searched for plugin binaries, in order (CNI_PATH). */
  pluginDirs: string[];
  /** Where ADD results are cached for CHECK and DEL (libcni: /var/lib/cni/results). */
  cacheDir: string;
  runner?: Runner;
  timeoutMs?: number;
}

export class CniRuntime {
  readonly #options: CniRuntimeOptions;
  readonly #run: Runner;

  constructor(options: CniRuntimeOptions) {
    this.#options = options;
    this.#run = options.runner ?? defaultRun;
  }

  /** Runs ADD through every plugin in order, each seeing the previous one's result; caches the last. */
  async add(conflist: Conflist, attachment: Attachment): Promise<CniResult> {
    let result: CniResult | undefined;
    for (const plugin of conflist.plugins) {
      result = await this.#exec("ADD", conflist, plugin, attachment, result);
    }
    const final = result ?? { cniVersion: conflist.cniVersion };
    await writeFileAtomic(
      this.#cachePath(conflist, attachment),
      `${JSON.stringify(cacheEntry(conflist, attachment, final))}\n`,
      0o600,
    );
    return final;
  }

  /** Runs DEL through every plugin in reverse order with the cached result; idempotent like the spec asks. */
  async del(conflist: Conflist, attachment: Attachment): Promise<void> {
    const cached = await this.cachedResult(conflist, attachment);
    for (const plugin of [...conflist.plugins].reverse()) {
      await this.#exec("DEL", conflist, plugin, attachment, cached);
    }
    await rm(this.#cachePath(conflist, attachment), { force: true });
  }

  /** Runs CHECK through every plugin in order against the result cached at ADD. */
  async check(conflist: Conflist, attachment: Attachment): Promise<void> {
    const cached = await this.cachedResult(conflist, attachment);
    if (!cached) {
      throw new CniError(
        "runtime",
        "CHECK",
        CNI_ERRORS.containerUnknown,
        "no cached ADD result for this attachment",
      );
    }
    for (const plugin of conflist.plugins) {
      await this.#exec("CHECK", conflist, plugin, attachment, cached);
    }
  }

  async cachedResult(conflist: Conflist, attachment: Attachment): Promise<CniResult | undefined> {
    const text = await readFile(this.#cachePath(conflist, attachment), "utf8").catch(() => undefined);
    return text === undefined ? undefined : CacheEntrySchema.parse(JSON.parse(text)).result;
  }

  #cachePath(conflist: Conflist, attachment: Attachment): string {
    return join(this.#options.cacheDir, `${conflist.name}-${attachment.containerId}-${attachment.ifName}`);
  }

  async #exec(
    command: CniCommand,
    conflist: Conflist,
    plugin: PluginConf,
    attachment: Attachment,
    prevResult: CniResult | undefined,
  ): Promise<CniResult | undefined> {
    const type = String(plugin.type);
    const binary = await this.#findPlugin(type, command);
    const input = JSON.stringify(pluginConfig(conflist, plugin, attachment, prevResult));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CNI_COMMAND: command,
      CNI_CONTAINERID: attachment.containerId,
      CNI_NETNS: attachment.netns,
      CNI_IFNAME: attachment.ifName,
      CNI_PATH: this.#options.pluginDirs.join(":"),
      CNI_ARGS: (attachment.args ?? []).map(([key, value]) => `${key}=${value}`).join(";"),
    };
    let stdout: string;
    try {
      ({ stdout } = await this.#run(binary, [], { input, env, timeoutMs: this.#options.timeoutMs }));
    } catch (error) {
      if (error instanceof CommandError) throw pluginError(type, command, error);
      throw error;
    }
    if (command !== "ADD") return prevResult;
    try {
      return CniResultSchema.parse(JSON.parse(stdout));
    } catch {
      throw new CniError(
        type,
        command,
        CNI_ERRORS.decodeFailure,
        "plugin printed no JSON result",
        stdout.slice(0, 500),
      );
    }
  }

  async #findPlugin(type: string, command: CniCommand): Promise<string> {
    for (const dir of this.#options.pluginDirs) {
      const candidate = join(dir, type);
      if (
        await access(candidate, constants.X_OK).then(
          () => true,
          () => false,
        )
      )
        return candidate;
    }
    throw new CniError(
      type,
      command,
      CNI_ERRORS.invalidEnvironment,
      `plugin "${type}" not found in CNI_PATH ${this.#options.pluginDirs.join(":")}`,
    );
  }
}

/** The config one plugin sees: its own object plus the network's name and version, prevResult and runtimeConfig. */
function pluginConfig(
  conflist: Conflist,
  plugin: PluginConf,
  attachment: Attachment,
  prevResult: CniResult | undefined,
): Record<string, unknown> {
  const config: Record<string, unknown> = { ...plugin, name: conflist.name, cniVersion: conflist.cniVersion };
  const capabilities = plugin.capabilities ?? {};
  const runtimeConfig = Object.fromEntries(
    Object.entries(attachment.capabilityArgs ?? {}).filter(([name]) => capabilities[name] === true),
  );
  if (Object.keys(runtimeConfig).length > 0) config.runtimeConfig = runtimeConfig;
  if (prevResult) config.prevResult = prevResult;
  return config;
}

function cacheEntry(conflist: Conflist, attachment: Attachment, result: CniResult): CacheEntry {
  return {
    kind: "cniCacheV1",
    containerId: attachment.containerId,
    ifName: attachment.ifName,
    networkName: conflist.name,
    config: conflist,
    cniArgs: attachment.args ?? [],
    capabilityArgs: attachment.capabilityArgs ?? {},
    result,
  };
}

function pluginError(type: string, command: CniCommand, error: CommandError): CniError {
  let printed: unknown;
  try {
    printed = JSON.parse(error.result.stdout);
  } catch {
    printed = undefined;
  }
  const parsed = CniErrorSchema.safeParse(printed);
  if (parsed.success) {
    return new CniError(type, command, parsed.data.code, parsed.data.msg, parsed.data.details ?? "");
  }
  // not the spec's error JSON: report what the plugin wrote
  const output = (error.result.stderr || error.result.stdout).trim().slice(0, 500);
  return new CniError(type, command, CNI_ERRORS.ioFailure, `plugin exited ${error.result.code}`, output);
}

/** Reads a .conflist file, or a single-plugin .conf as a list of one (libcni's ConfListFromConf). */
export async function loadConflist(path: string): Promise<Conflist> {
  const text = await readFile(path, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserError([
      { path, message: `not JSON: ${(error as Error).message}`, fix: "write the conflist as JSON" },
    ]);
  }
  const isList = typeof value === "object" && value !== null && "plugins" in value;
  const parsed = isList
    ? NetConfListSchema.safeParse(value)
    : NetConfSchema.transform(asConflist).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError([
      {
        path: `${path}: ${formatPath(issue.path)}`,
        message: `not a CNI network configuration${isList ? " list" : ""}: ${issue.message}`,
        fix: 'give "name", "cniVersion" and "plugins" (each with a "type"), or one plugin\'s "type"',
      },
    ]);
  }
  return parsed.data;
}
