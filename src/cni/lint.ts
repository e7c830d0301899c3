// Checks a CNI network configuration (.conf or .conflist) for the failures the seed ran into and
// those measured in DATAPATH.md. Pure: text in, findings out, each with a JSON path and a fix.
import type { Finding } from "../errors/user-error.ts";
import type { Plan } from "../ipam/planner.ts";
import { type Cidr, containsIp, formatCidr, formatIp, lastAddress, parseCidr, parseIp } from "../net/cidr.ts";
import { IPAM_DATA_DIR } from "./conflist.ts";

export interface LintFinding extends Finding {
  severity: "error" | "warning";
}

/** Directories on tmpfs: host-local reservations there vanish with the reboot that took their pods. */
const TMPFS_DIRS = ["/run/", "/var/run/", "/dev/shm/"];
const HOST_LOCAL_DEFAULT_DATA_DIR = "/var/lib/cni/networks";

type Json = Record<string, unknown>;

export function lintCniConfig(text: string, fileName: string, plan?: Plan): LintFinding[] {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    return [invalidJson(text, error as SyntaxError)];
  }
  if (!isObject(config)) {
    return [error("", "the file is not a JSON object", `write a CNI ${kindOf(fileName)} object`)];
  }
  const isList = fileName.endsWith(".conflist");
  const plugins = pluginsOf(config, isList);
  if (!Array.isArray(plugins)) return [plugins];
  const findings: LintFinding[] = [];
  for (const field of ["cniVersion", "name"]) {
    if (typeof config[field] !== "string") {
      findings.push(
        error(
          field,
          `missing ${field}`,
          `add "${field}" (e.g. ${field === "name" ? '"aks-ipvlan"' : '"1.0.0"'})`,
        ),
      );
    }
  }

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

/** The plugins with their JSON paths, or the finding that says the file has the wrong shape. */
function pluginsOf(config: Json, isList: boolean): { plugin: Json; path: string }[] | LintFinding {
  if (!isList) {
    if (!("plugins" in config)) return [{ plugin: config, path: "" }];
    return error(
      "plugins",
      "a .conf file holds one plugin, but this one has a plugins list",
      "rename the file to .conflist",
    );
  }
  if (!Array.isArray(config.plugins)) {
    return error(
      "plugins",
      "a .conflist needs a plugins array",
      'put the plugin objects into "plugins": [...]',
      config.plugins,
    );
  }
  return config.plugins.map((plugin, index) => ({
    plugin: isObject(plugin) ? plugin : {},
    path: `plugins[${index}]`,
  }));
}

function lintIpvlan(plugin: Json, base: string, plan: Plan | undefined): LintFinding[] {
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
  const ipam = plugin.ipam;
  if (!isObject(ipam)) {
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

  const dataDir = typeof ipam.dataDir === "string" ? ipam.dataDir : undefined;
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

  const routes = Array.isArray(ipam.routes) ? ipam.routes : [];
  if (!routes.some((route) => isObject(route) && (route.dst === "0.0.0.0/0" || route.dst === "default"))) {
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
        "no address ranges",
        'add "ranges": [[{"subnet": "...", "rangeStart": "...", "rangeEnd": "..."}]]',
      ),
    );
  }
  for (const { range, path } of ranges) findings.push(...lintRange(range, path, plan));
  return findings;
}

/** host-local's ranges, or its older single-range fields directly in ipam. */
function rangesOf(ipam: Json, ipamPath: string): { range: Json; path: string }[] {
  if (Array.isArray(ipam.ranges)) {
    return ipam.ranges.flatMap((set, i) =>
      (Array.isArray(set) ? set : []).map((range, j) => ({
        range: isObject(range) ? range : {},
        path: `${ipamPath}.ranges[${i}][${j}]`,
      })),
    );
  }
  return "subnet" in ipam ? [{ range: ipam, path: ipamPath }] : [];
}

function lintRange(range: Json, path: string, plan: Plan | undefined): LintFinding[] {
  const findings: LintFinding[] = [];
  if (typeof range.subnet !== "string") {
    findings.push(
      error(
        `${path}.subnet`,
        "range without subnet: host-local refuses it",
        'add "subnet" (the node subnet, with rangeStart/rangeEnd narrowing it to the node block)',
      ),
    );
    return findings;
  }
  const subnet = lenientCidr(range.subnet);
  if (!subnet) {
    findings.push(error(`${path}.subnet`, "not an IPv4 CIDR", "write it as a.b.c.d/n", range.subnet));
    return findings;
  }
  const addresses: Record<string, number | undefined> = {};
  for (const field of ["rangeStart", "rangeEnd", "gateway"]) {
    const value = range[field];
    if (value === undefined) continue;
    const address = typeof value === "string" ? tryParseIp(value) : undefined;
    if (address === undefined) {
      findings.push(error(`${path}.${field}`, "not an IPv4 address", "write it as a.b.c.d", value));
    } else if (!containsIp(subnet, address)) {
      findings.push(
        error(
          `${path}.${field}`,
          field === "gateway"
            ? `gateway outside the range's subnet ${formatCidr(subnet)}: ADD fails with 'network is unreachable'`
            : `outside the range's subnet ${formatCidr(subnet)}`,
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
  if (plan) {
    const from = addresses.rangeStart ?? subnet.base + 1;
    const to = addresses.rangeEnd ?? lastAddress(subnet) - 1;
    findings.push(...lintAgainstPlan(from, to, path, plan));
  }
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

function lenientCidr(text: string): Cidr | undefined {
  const [address, prefix] = text.split("/");
  const ip = address === undefined ? undefined : tryParseIp(address);
  if (ip === undefined || prefix === undefined || !/^\d{1,2}$/.test(prefix) || Number(prefix) > 32)
    return undefined;
  const size = 2 ** (32 - Number(prefix));
  return parseCidr(`${formatIp(ip - (ip % size))}/${prefix}`);
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

function isObject(value: unknown): value is Json {
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
