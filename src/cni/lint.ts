// Checks a CNI network configuration (.conf or .conflist) for the failures the seed ran into and
// those measured in DATAPATH.md. Pure: text in, findings out, each with a JSON path and a fix.
import type { z } from "zod";
import { type Finding, formatPath, valueAt } from "../errors/user-error.ts";
import type { Plan } from "../ipam/planner.ts";
import { type Cidr, containsIp, formatCidr, formatIp, lastAddress, parseCidr, parseIp } from "../net/cidr.ts";
import { PLUGIN_CNI_VERSIONS } from "../spec/limits.ts";
import { OWN_INTERFACES } from "../spec/canonical.ts";
import { IPAM_DATA_DIR } from "./conflist.ts";
import { parseLikeGo } from "./go-json.ts";
import {
  type HostLocalRange,
  type IpamConf,
  NETWORK_NAME_PATTERN,
  NetConfListSchema,
  NetConfSchema,
  type PluginConf,
  asConflist,
} from "./schema.ts";

export interface LintFinding extends Finding {
  severity: "error" | "warning";
}

/** Directories on tmpfs: host-local reservations there vanish with the reboot that took their pods. */
const TMPFS_DIRS = ["/run/", "/var/run/", "/dev/shm/"];
const HOST_LOCAL_DEFAULT_DATA_DIR = "/var/lib/cni/networks";

export function lintCniConfig(text: string, fileName: string, plan?: Plan): LintFinding[] {
  const isList = fileName.endsWith(".conflist");
  let config: unknown;
  try {
    config = parseLikeGo(text, isList);
  } catch (error) {
    return [invalidJson(text, error as SyntaxError)];
  }
  if (!isObject(config)) {
    return [error("", "the file is not a JSON object", `write a CNI ${kindOf(fileName)} object`)];
  }
  if (!isList && "plugins" in config) {
    return [
      error(
        "plugins",
        "a .conf file holds one plugin, but this one has a plugins list",
        "rename the file to .conflist",
      ),
    ];
  }
  const parsed = isList
    ? NetConfListSchema.safeParse(config)
    : NetConfSchema.transform(asConflist).safeParse(config);
  if (!parsed.success) return parsed.error.issues.map((issue) => shapeFinding(issue, config));
  const conflist = parsed.data;
  const findings: LintFinding[] = [];
  if (!(PLUGIN_CNI_VERSIONS as readonly string[]).includes(conflist.cniVersion)) {
    findings.push(
      error(
        "cniVersion",
        `unsupported cniVersion: the shipped ipvlan, host-local and portmap plugins refuse it ("incompatible CNI versions"); they accept ${PLUGIN_CNI_VERSIONS.join(", ")}`,
        'use "1.0.0"',
        conflist.cniVersion,
      ),
    );
  }
  if (!NETWORK_NAME_PATTERN.test(conflist.name)) {
    findings.push(
      error(
        "name",
        "not a valid network name: libcni refuses it (it becomes part of file names)",
        'use letters, digits, "_", "." and "-", starting with a letter or digit, e.g. "aks-ipvlan"',
        conflist.name,
      ),
    );
  }
  const plugins = conflist.plugins.map((plugin, index) => ({
    plugin,
    path: isList ? `plugins[${index}]` : "",
  }));
  const ipvlans = plugins.filter(({ plugin }) => plugin.type === "ipvlan");
  if (ipvlans.length === 0) {
    findings.push(
      warning(
        isList ? "plugins" : "type",
        "no ipvlan plugin: the remaining checks do not apply",
        "lint an ipvlan configuration",
      ),
    );
  }
  for (const { plugin, path } of ipvlans) findings.push(...lintIpvlan(plugin, path, plan));
  if (!plugins.some(({ plugin }) => plugin.type === "portmap")) {
    findings.push(
      warning(
        isList ? "plugins" : "",
        "no portmap plugin: pods with hostPort get no port mapping",
        isList
          ? 'append {"type": "portmap", "capabilities": {"portMappings": true}} to plugins'
          : 'rename the file to .conflist and chain {"type": "portmap", "capabilities": {"portMappings": true}}',
      ),
    );
  }
  return findings;
}

/** Whether a config chains the ipvlan plugin: such a file in a conf dir is meant to be the one in use. */
export function usesIpvlan(text: string): boolean {
  try {
    const list = parseLikeGo(text, true);
    const value = isObject(list) && !("plugins" in list) ? parseLikeGo(text, false) : list;
    if (!isObject(value)) return false;
    const plugins = Array.isArray(value.plugins) ? (value.plugins as unknown[]) : [value];
    return plugins.some((plugin) => isObject(plugin) && plugin.type === "ipvlan");
  } catch {
    return false;
  }
}

/** The finding for an ipvlan config that another file, first by name, hides from the runtime. */
export function shadowedFinding(first: string): LintFinding {
  return error(
    "",
    `shadowed by ${first}: the runtime uses the first network config by name, so pods never get this network`,
    `remove ${first}, or rename this file so it sorts first (e.g. 05-...)`,
  );
}

/** What a missing or mistyped field means to the runtime and the plugins, by its name. */
const FIELD_MEANING: Record<string, { message: string; fix: string }> = {
  cniVersion: { message: "missing cniVersion", fix: 'add "cniVersion" (e.g. "1.0.0")' },
  name: { message: "missing name", fix: 'add "name" (e.g. "aks-ipvlan")' },
  plugins: {
    message: "a .conflist needs a plugins array",
    fix: 'put the plugin objects into "plugins": [...]',
  },
  type: {
    message: "no plugin type: the runtime cannot tell which binary to run",
    fix: 'add "type" (e.g. "ipvlan")',
  },
  subnet: {
    message: "range without subnet: host-local refuses it",
    fix: 'add "subnet" (the node subnet, with rangeStart/rangeEnd narrowing it to the node block)',
  },
  ranges: {
    message: "ranges must be a list of range sets (lists of ranges)",
    fix: 'write "ranges": [[{"subnet": "...", "rangeStart": "...", "rangeEnd": "..."}]]',
  },
};

function shapeFinding(issue: z.core.$ZodIssue, config: unknown): LintFinding {
  const path = formatPath(issue.path);
  const value = valueAt(config, issue.path);
  const field = String(issue.path.findLast((key) => typeof key === "string") ?? "");
  if (issue.code === "too_small" && field === "plugins") {
    return error(
      path,
      issue.message,
      'list the plugins, e.g. [{"type": "ipvlan", "mode": "l3s", ...}]',
      value,
    );
  }
  const known = FIELD_MEANING[field];
  if (known && (issue.code === "invalid_type" || value === undefined)) {
    return error(path, known.message, known.fix, value);
  }
  return error(
    path,
    issue.message,
    "see the CNI specification (github.com/containernetworking/cni, SPEC.md)",
    value,
  );
}

function lintIpvlan(plugin: PluginConf, base: string, plan: Plan | undefined): LintFinding[] {
  const findings: LintFinding[] = [];
  const at = (field: string) => (base ? `${base}.${field}` : field);
  if (plugin.mode !== "l3s") {
    findings.push(
      error(
        at("mode"),
        plugin.mode === undefined
          ? "no mode: the ipvlan plugin defaults to l2, which bypasses the node's iptables (no masquerade, no services)"
          : "only l3s works here: l2 bypasses the node's iptables, l3 skips netfilter; all ipvlan devices on a master share one mode",
        'set "mode": "l3s"',
        plugin.mode,
      ),
    );
  }
  if (typeof plugin.master === "string" && OWN_INTERFACES.includes(plugin.master)) {
    findings.push(
      error(
        at("master"),
        "is the agent's own host device, not a NIC: pods would hang off the device the agent deletes and recreates",
        'set "master" to the node NIC, e.g. "eth0"',
        plugin.master,
      ),
    );
  }
  const ipam = plugin.ipam;
  if (!ipam) {
    findings.push(
      error(at("ipam"), "no ipam section: pods get no address", 'add "ipam": {"type": "host-local", ...}'),
    );
    return findings;
  }
  const ipamPath = at("ipam");
  if (ipam.type !== "host-local") {
    findings.push(
      warning(
        `${ipamPath}.type`,
        "not host-local: the range checks do not apply",
        'use "type": "host-local"',
        ipam.type,
      ),
    );
    return findings;
  }

  const dataDir = ipam.dataDir;
  if (!TMPFS_DIRS.some((dir) => `${dataDir ?? HOST_LOCAL_DEFAULT_DATA_DIR}/`.startsWith(dir))) {
    findings.push(
      error(
        `${ipamPath}.dataDir`,
        `${dataDir === undefined ? `no dataDir: host-local uses ${HOST_LOCAL_DEFAULT_DATA_DIR}, ` : ""}on persistent disk: reservations outlive a reboot that took their pods, and the block runs out of addresses`,
        `set "dataDir": "${IPAM_DATA_DIR}" (tmpfs)`,
        dataDir,
      ),
    );
  }

  if (!(ipam.routes ?? []).some((route) => route.dst === "0.0.0.0/0" || route.dst === "default")) {
    findings.push(
      error(
        `${ipamPath}.routes`,
        "no default route: egress, Azure DNS (168.63.129.16) and every ClusterIP fail with 'Network is unreachable'",
        'set "routes": [{"dst": "0.0.0.0/0"}] (in L3S the gateway host-local adds is never resolved, so none is needed)',
        ipam.routes,
      ),
    );
  }

  const ranges = rangesOf(ipam, ipamPath);
  if (ranges.length === 0) {
    findings.push(
      error(
        `${ipamPath}.ranges`,
        'no address ranges: host-local refuses it ("no IP ranges specified")',
        'add "ranges": [[{"subnet": "...", "rangeStart": "...", "rangeEnd": "..."}]]',
      ),
    );
  }
  const checked = ranges.map(({ range, path }) => ({ path, ...lintRange(range, path, plan) }));
  for (const { findings: rangeFindings } of checked) findings.push(...rangeFindings);
  findings.push(...overlapFindings(checked));
  return findings;
}

/** host-local's ranges, or its older single-range fields directly in ipam; `set` numbers the range set. */
function rangesOf(ipam: IpamConf, ipamPath: string): { range: HostLocalRange; path: string; set: number }[] {
  if (ipam.ranges) {
    return ipam.ranges.flatMap((set, i) =>
      set.map((range, j) => ({ range, path: `${ipamPath}.ranges[${i}][${j}]`, set: i })),
    );
  }
  return ipam.subnet === undefined
    ? []
    : [{ range: { ...ipam, subnet: ipam.subnet }, path: ipamPath, set: 0 }];
}

interface CheckedRange {
  path: string;
  findings: LintFinding[];
  /** The addresses host-local hands out from this range, when the range itself is valid. */
  span?: { from: number; to: number };
}

function lintRange(range: HostLocalRange, path: string, plan: Plan | undefined): Omit<CheckedRange, "path"> {
  const findings: LintFinding[] = [];
  let subnet: Cidr;
  try {
    subnet = parseCidr(range.subnet);
  } catch (failure) {
    const message = (failure as Error).message;
    findings.push(
      error(
        `${path}.subnet`,
        /host bits/.test(message)
          ? `${message.replace(/^"[^"]*" /, "")}: host-local refuses a subnet with host bits`
          : "not an IPv4 CIDR",
        /host bits/.test(message) ? "write the network address" : "write it as a.b.c.d/n",
        range.subnet,
      ),
    );
    return { findings };
  }
  if (subnet.prefix > 30) {
    findings.push(
      error(
        `${path}.subnet`,
        `a /${subnet.prefix} has no address to hand out: host-local refuses it ("too small to allocate from")`,
        "use the node subnet, with rangeStart/rangeEnd narrowing it to the node block",
        range.subnet,
      ),
    );
    return { findings };
  }
  const addresses: Record<string, number | undefined> = {};
  for (const field of ["rangeStart", "rangeEnd", "gateway"] as const) {
    const value = range[field];
    if (value === undefined) continue;
    const address = tryParseIp(value);
    if (address === undefined) {
      findings.push(error(`${path}.${field}`, "not an IPv4 address", "write it as a.b.c.d", value));
    } else if (!containsIp(subnet, address)) {
      findings.push(
        error(
          `${path}.${field}`,
          field === "gateway"
            ? `gateway outside the range's subnet ${formatCidr(subnet)}: ADD fails with 'network is unreachable'`
            : `outside the range's subnet ${formatCidr(subnet)}: host-local refuses it`,
          field === "gateway"
            ? `remove "gateway" (host-local then uses ${formatIp(subnet.base + 1)}), or make "subnet" the node subnet that contains it`
            : `pick an address inside ${formatCidr(subnet)}`,
          value,
        ),
      );
    } else {
      addresses[field] = address;
    }
  }
  const from = addresses.rangeStart ?? subnet.base + 1;
  const to = addresses.rangeEnd ?? lastAddress(subnet) - 1;
  if (from > to) {
    findings.push(
      error(
        `${path}.rangeStart`,
        `rangeStart ${formatIp(from)} is after rangeEnd ${formatIp(to)}: host-local refuses the range`,
        "swap rangeStart and rangeEnd",
        range.rangeStart,
      ),
    );
    return { findings };
  }
  if (findings.length > 0) return { findings };
  if (plan) findings.push(...lintAgainstPlan(from, to, path, plan));
  return { findings, span: { from, to } };
}

/** host-local refuses ranges that overlap, within a range set and across sets. */
function overlapFindings(ranges: CheckedRange[]): LintFinding[] {
  const findings: LintFinding[] = [];
  ranges.forEach((range, index) => {
    const earlier = ranges
      .slice(0, index)
      .find(
        (other) =>
          range.span && other.span && range.span.from <= other.span.to && other.span.from <= range.span.to,
      );
    if (!earlier) return;
    findings.push(
      error(
        range.path,
        `overlaps ${earlier.path}: host-local refuses overlapping ranges`,
        "give each range its own addresses",
      ),
    );
  });
  return findings;
}

/** The addresses from..to must not hold a node IP, nor reach into more than one node's blocks. */
function lintAgainstPlan(from: number, to: number, path: string, plan: Plan): LintFinding[] {
  const findings: LintFinding[] = [];
  const span = `${formatIp(from)}-${formatIp(to)}`;
  for (const node of plan.nodes) {
    const ip = parseIp(node.ip);
    if (ip >= from && ip <= to) {
      findings.push(
        error(
          path,
          `the range ${span} contains the IP of node ${node.name} (${node.ip})`,
          "narrow the range to the node's block with rangeStart/rangeEnd (aks-ipvlan render)",
          span,
        ),
      );
    }
  }
  const owners = plan.nodes.filter((node) =>
    node.blocks.some((block) => {
      const cidr = parseCidr(block.cidr);
      return cidr.base <= to && from <= lastAddress(cidr);
    }),
  );
  if (owners.length > 1) {
    findings.push(
      error(
        path,
        `the range ${span} overlaps the blocks of ${owners.length} nodes (${owners.map((node) => node.name).join(", ")}): pods on different nodes would get the same addresses`,
        "give each node only its own block (aks-ipvlan render --node NAME)",
        span,
      ),
    );
  } else if (owners.length === 0) {
    findings.push(
      warning(
        path,
        `the range ${span} is not inside any planned node block: no VNet route sends its addresses to this node`,
        "use the node's block from `aks-ipvlan plan`",
        span,
      ),
    );
  }
  return findings;
}

function invalidJson(text: string, failure: SyntaxError): LintFinding {
  const position = /position (\d+)/.exec(failure.message);
  const offset = position ? Number(position[1]) : text.length;
  const before = text.slice(0, offset).split("\n");
  const line = before.length;
  const column = before.at(-1)!.length + 1;
  return error(
    "",
    `invalid JSON at line ${line}, column ${column}: ${failure.message.replace(/ in JSON at position.*$/, "")}`,
    "fix the JSON syntax there (a missing comma or quote, or a trailing comma)",
  );
}

function tryParseIp(text: string): number | undefined {
  try {
    return parseIp(text);
  } catch {
    return undefined;
  }
}

function kindOf(fileName: string): string {
  return fileName.endsWith(".conflist") ? "network configuration list" : "network configuration";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function finding(severity: LintFinding["severity"]) {
  return (path: string, message: string, fix: string, value?: unknown): LintFinding => ({
    severity,
    path,
    message,
    fix,
    ...(value === undefined ? {} : { value }),
  });
}

const error = finding("error");
const warning = finding("warning");
