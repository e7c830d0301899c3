// The bad-input corpus: what a typo, a YAML block scalar or a careless edit can feed plan, render,
// lint and agent, grouped by kind. Each case names the field the error must name; the runner
// (corpus.test.ts) checks the exit code, that field, no stack trace and that nothing was written.

/** A spec case: runs through plan, render --out and agent --once; all three must refuse it alike. */
export interface SpecCase {
  kind: string;
  name: string;
  /** The spec text, or a function of the scratch directory for inputs that need files. */
  spec: string;
  /** The field the error must name, as the finding's path prints it. */
  field: string;
}

/** Stands for the spec file's own path: YAML-level errors name the file, not a field. */
export const SPEC_FILE = "{spec file}";

const BASE = "nodeSubnet: 10.224.0.0/16\nnodes: [{name: node1, ip: 10.224.0.4}]\n";
const withSubnet = (subnet: string) => `nodeSubnet: ${subnet}\n`;
const withPool = (pool: string) => `${BASE}podPool: ["${pool}"]\n`;
const withNode = (node: string) => `nodeSubnet: 10.224.0.0/16\nnodes: [${node}]\n`;
const withField = (yaml: string) => `${BASE}${yaml}\n`;

export const SPEC_CASES: SpecCase[] = [
  // Ranges too wide to be a VNet's, or overlapping special-purpose space (RFC 6890, Azure).
  ...[
    ["0.0.0.0/0", "nodeSubnet"],
    ["0.0.0.0/8", "nodeSubnet"],
    ["8.0.0.0/7", "nodeSubnet"],
    ["127.0.0.0/16", "nodeSubnet"],
    ["169.254.0.0/16", "nodeSubnet"],
    ["224.0.0.0/24", "nodeSubnet"],
    ["240.0.0.0/16", "nodeSubnet"],
    ["10.224.0.0/30", "nodeSubnet"],
    ["10.224.0.4/32", "nodeSubnet"],
  ].map(([subnet, field]) => ({
    kind: "unsafe address",
    name: `nodeSubnet ${subnet}`,
    spec: withSubnet(subnet!),
    field: field!,
  })),
  ...[
    "0.0.0.0/0",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "0.0.0.0/8",
    "255.255.255.0/24",
    "240.0.0.0/4",
    "168.63.129.0/24",
    "100.0.0.0/6",
  ].map((pool) => ({
    kind: "unsafe address",
    name: `podPool ${pool}`,
    spec: withPool(pool),
    field: "podPool[0]",
  })),
  ...["168.63.129.16/28", "169.254.169.240/28", "127.0.0.0/28", "224.0.0.0/28"].map((block) => ({
    kind: "unsafe address",
    name: `pinned block ${block}`,
    spec: withNode(`{name: node1, ip: 10.224.0.4, block: "${block}"}`),
    field: "nodes[0].block",
  })),
  ...["10.224.0.0", "10.224.0.1", "10.224.0.2", "10.224.0.3", "10.224.255.255"].map((ip) => ({
    kind: "unsafe address",
    name: `node IP ${ip}`,
    spec: withNode(`{name: node1, ip: ${ip}}`),
    field: "nodes[0].ip",
  })),
  ...["0.0.0.0/0", "0.0.0.0/1", "127.0.0.0/8"].map((cidr) => ({
    kind: "unsafe address",
    name: `nonMasqueradeCIDRs ${cidr}`,
    spec: withField(`masquerade: {nonMasqueradeCIDRs: ["${cidr}"]}`),
    field: "masquerade.nonMasqueradeCIDRs[0]",
  })),

  // The Service CIDR: special ranges, and apart from the node subnet, the pool and pinned blocks
  // (NetworkPolicy lets every pod reach it unchecked).
  ...[
    ["0.0.0.0/0", BASE],
    ["10.0.0.0/8", BASE],
    ["127.0.0.0/8", BASE],
    ["169.254.0.0/16", BASE],
    ["10.224.0.0/16", BASE],
    ["10.224.128.0/24", BASE],
    ["10.241.0.0/20", `${BASE}podPool: [10.241.0.0/16]\n`],
    ["10.0.0.0/16", "nodeSubnet: 10.0.0.0/8\n"],
  ].map(([cidr, base]) => ({
    kind: "service CIDR",
    name: `serviceCidr ${cidr}${base === BASE ? "" : ` with ${JSON.stringify(base)}`}`,
    spec: `${base}serviceCidr: "${cidr}"\n`,
    field: "serviceCidr",
  })),
  // Non-masquerade destinations in public space turn masquerade off towards the internet.
  ...["8.0.0.0/8", "20.0.0.0/8", "52.0.0.0/8", "1.1.1.1/32", "192.0.0.0/8"].map((cidr) => ({
    kind: "masquerade exceptions",
    name: `nonMasqueradeCIDRs ${cidr} without allowPublicDestinations`,
    spec: withField(`masquerade: {nonMasqueradeCIDRs: [10.224.0.0/16, "${cidr}"]}`),
    field: "masquerade.nonMasqueradeCIDRs[1]",
  })),
  // Names as Kubernetes, Linux and the OCI distribution grammar check them.
  ...[
    ["nodes[0].name", withNode("{name: a..b, ip: 10.224.0.4}")],
    ["nodes[0].name", withNode(`{name: ${"a".repeat(64)}, ip: 10.224.0.4}`)],
    ["nodes[0].name", withNode(`{name: x.${"a".repeat(64)}.y, ip: 10.224.0.4}`)],
    ["nodes[0].name", withNode("{name: -a, ip: 10.224.0.4}")],
    ["masterInterface", withField("masterInterface: ipvl-host")],
    ["agent.image", withField('agent: {image: "../x"}')],
    ["agent.image", withField('agent: {image: "localhost:99999/x"}')],
    ["agent.image", withField('agent: {image: "localhost:0/x"}')],
    ["agent.image", withField('agent: {image: "-registry.io/x"}')],
    ["agent.image", withField('agent: {image: "registry..io/x"}')],
    ["agent.image", withField('agent: {image: "ghcr.io/Upper/x"}')],
    ["controller.image", withField('controller: {image: "ghcr.io/x@sha256:abc"}')],
    ["agent.listenAddress", withField('agent: {listenAddress: "255.255.255.255:80"}')],
    ["agent.listenAddress", withField('agent: {listenAddress: "224.0.0.1:80"}')],
    ["agent.listenAddress", withField('agent: {listenAddress: "240.0.0.1:80"}')],
    ["cniVersion", withField('cniVersion: "1.1.0"')],
    ["cniVersion", withField('cniVersion: "0.3.1"')],
  ].map(([field, spec]) => ({
    kind: "names and versions",
    name: `${field} ${JSON.stringify(spec)}`,
    spec: spec!,
    field: field!,
  })),

  // Values that cannot be read as one canonical form.
  ...[
    ["nodeSubnet", withSubnet('"10.224.0.0 /16"')],
    ["nodeSubnet", withSubnet('"10.224.0.0/33"')],
    ["nodeSubnet", withSubnet('"10.224.0.1/16"')],
    ["nodeSubnet", withSubnet('"10.224.0/16"')],
    ["nodeSubnet", withSubnet("16")],
    ["podPool[0]", withPool("10.241.0.0")],
    ["podPool[0]", withPool("10.241.0.0/16/16")],
    ["reserved[0]", withField('reserved: ["10.224.0.1 0"]')],
    ["nodes[0].ip", withNode("{name: node1, ip: 10.224.0}")],
    ["nodes[0].ip", withNode('{name: node1, ip: "10.224.0.4/32"}')],
    ["nodes[0].ip", withNode('{name: node1, ip: "10.224.0.04x"}')],
    ["masterInterface", withField('masterInterface: "eth0\\n"')],
    ["masterInterface", withField('masterInterface: "eth 0"')],
    ["masterInterface", withField('masterInterface: "a/b"')],
    ["masterInterface", withField('masterInterface: ".."')],
    ["masterInterface", withField("masterInterface: sixteen-letters0")],
    ["agent.image", withField('agent: {image: "ghcr.io/x/y:1\\nkind: Secret"}')],
    ["agent.image", withField('agent: {image: "ghcr.io/x/y: 1"}')],
    ["controller.image", withField('controller: {image: ""}')],
    ["agent.listenAddress", withField('agent: {listenAddress: "127.0.0.1:0"}')],
    ["agent.listenAddress", withField('agent: {listenAddress: "127.0.0.1:70000"}')],
    ["agent.listenAddress", withField('agent: {listenAddress: "localhost:9464"}')],
    ["agent.listenAddress", withField('agent: {listenAddress: "127.0.0.1:9464\\n0.0.0.0:1"}')],
    [
      "controller.routeTable.subscriptionId",
      withField("controller: {routeTable: {subscriptionId: x, resourceGroup: rg, name: rt}}"),
    ],
    [
      "controller.routeTable.resourceGroup",
      withField(
        'controller: {routeTable: {subscriptionId: "00000000-0000-0000-0000-000000000000", resourceGroup: "r g", name: rt}}',
      ),
    ],
    [
      "controller.routeTable.name",
      withField(
        'controller: {routeTable: {subscriptionId: "00000000-0000-0000-0000-000000000000", resourceGroup: rg, name: "rt/../x"}}',
      ),
    ],
    ["controller.azureClientId", withField('controller: {azureClientId: "me\\n"}')],
  ].map(([field, spec]) => ({
    kind: "not canonical",
    name: `${field} ${JSON.stringify(spec)}`,
    spec: spec!,
    field: field!,
  })),

  // Numbers, enums and names out of range.
  ...[
    ["blockSize", withField("blockSize: 8")],
    ["blockSize", withField("blockSize: 31")],
    ["blockSize", withField('blockSize: "28"')],
    ["maxBlocksPerNode", withField("maxBlocksPerNode: 0")],
    ["mtu", withField("mtu: 100")],
    ["cniVersion", withField('cniVersion: "9.9.9"')],
    ["mode", withField("mode: l2")],
    ["name", withField("name: AKS_Cluster")],
    ["name", withField(`name: ${"a".repeat(51)}`)],
    ["nodes[0].name", withNode("{name: Node_1, ip: 10.224.0.4}")],
    ["nodes[1].name", withNode("{name: a, ip: 10.224.0.4}, {name: a, ip: 10.224.0.5}")],
    ["nodes[1].ip", withNode("{name: a, ip: 10.224.0.4}, {name: b, ip: 10.224.0.4}")],
    ["nodes[0].ip", withNode("{name: a, ip: 10.225.0.4}")],
    ["agent.resyncSeconds", withField("agent: {resyncSeconds: 0}")],
    ["maxPodsPerNode", withField("maxPodsPerNode: 0")],
    ["maxPodsPerNode", withField("maxPodsPerNode: 64")],
    ["<root>", withField("colour: blue")],
  ].map(([field, spec]) => ({
    kind: "out of range",
    name: `${field} ${JSON.stringify(spec)}`,
    spec: spec!,
    field: field!,
  })),

  // The YAML itself: syntax, shape, aliases, size.
  ...[
    [SPEC_FILE, "nodeSubnet: [10.224.0.0/16\n"],
    [SPEC_FILE, "nodeSubnet: 10.224.0.0/16\nnodeSubnet: 10.225.0.0/16\n"],
    [SPEC_FILE, "nodeSubnet: 10.224.0.0/16\n\tblockSize: 28\n"],
    ["nodeSubnet", ""],
    ["<root>", "- 10.224.0.0/16\n"],
    ["<root>", "42\n"],
    [SPEC_FILE, `a: &a ["x","x","x","x","x","x","x","x","x"]\n${aliasBomb()}`],
    [SPEC_FILE, `x: &r [1]\n${BASE}y: [${Array.from({ length: 120 }, () => "*r").join(", ")}]\n`],
    [SPEC_FILE, `${BASE}# ${"x".repeat(1024 * 1024)}\n`],
    [SPEC_FILE, `${BASE}a: &a [*a]\n`],
    [SPEC_FILE, "nodeSubnet: &a [*a]\n"],
    [SPEC_FILE, `x: &r [1]\n${BASE}y: [${Array.from({ length: 101 }, () => "*r").join(", ")}]\n`],
  ].map(([field, spec]) => ({
    kind: "YAML and size",
    name: `${JSON.stringify(spec!.slice(0, 40))}`,
    spec: spec!,
    field: field!,
  })),
];

/** Nine levels of nine aliases each: 9^9 strings when expanded (the "billion laughs"). */
function aliasBomb(): string {
  const lines: string[] = [];
  let previous = "a";
  for (const name of ["b", "c", "d", "e", "f", "g", "h", "i"]) {
    lines.push(`${name}: &${name} [${Array.from({ length: 9 }, () => `*${previous}`).join(",")}]`);
    previous = name;
  }
  return `${lines.join("\n")}\nnodeSubnet: 10.224.0.0/16\n`;
}

/** A lint case: a config file's text, the file name it has, and the finding path it must produce. */
export interface LintCase {
  kind: string;
  name: string;
  file: string;
  text: string;
  field: string;
}

const RANGE = { subnet: "10.224.0.0/16", rangeStart: "10.224.0.16", rangeEnd: "10.224.0.31" };

/** A conflist like render's, with one range and one mutation. */
export function conflistWith(
  range: Record<string, unknown> | Record<string, unknown>[][] = RANGE,
  top: Record<string, unknown> = {},
  plugin: Record<string, unknown> = {},
): string {
  const ranges = Array.isArray(range) ? range : [[range]];
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "aks-ipvlan",
    plugins: [
      {
        type: "ipvlan",
        master: "eth0",
        mode: "l3s",
        ipam: { type: "host-local", dataDir: "/run/aks-ipvlan/ipam", ranges, routes: [{ dst: "0.0.0.0/0" }] },
        ...plugin,
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
    ...top,
  });
}

const R = "plugins[0].ipam.ranges[0][0]";

export const LINT_CASES: LintCase[] = [
  // What host-local or libcni refuse (test/faults/plugins.test.ts runs them against the real binaries).
  ...[
    ["subnet with host bits", conflistWith({ subnet: "10.224.0.5/16" }), `${R}.subnet`],
    [
      "rangeStart after rangeEnd",
      conflistWith({ ...RANGE, rangeStart: "10.224.0.31", rangeEnd: "10.224.0.16" }),
      `${R}.rangeStart`,
    ],
    ["a /32 subnet", conflistWith({ subnet: "10.224.0.16/32" }), `${R}.subnet`],
    ["a /31 subnet", conflistWith({ subnet: "10.224.0.16/31" }), `${R}.subnet`],
    ["cniVersion 9.9.9", conflistWith(RANGE, { cniVersion: "9.9.9" }), "cniVersion"],
    ["no plugins", JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: [] }), "plugins"],
    [
      "rangeStart outside the subnet",
      conflistWith({ ...RANGE, rangeStart: "10.225.0.1" }),
      `${R}.rangeStart`,
    ],
    ["rangeEnd outside the subnet", conflistWith({ ...RANGE, rangeEnd: "10.225.0.1" }), `${R}.rangeEnd`],
    ["overlapping ranges in a set", conflistWith([[RANGE, RANGE]]), "plugins[0].ipam.ranges[0][1]"],
    ["overlapping range sets", conflistWith([[RANGE], [RANGE]]), "plugins[0].ipam.ranges[1][0]"],
    ["no ranges", conflistWith([]), "plugins[0].ipam.ranges"],
    ["a range without subnet", conflistWith({ rangeStart: "10.224.0.16" }), `${R}.subnet`],
    ["a subnet that is not one", conflistWith({ subnet: "banana" }), `${R}.subnet`],
    ["a plugin without type", conflistWith(RANGE, {}, { type: undefined }), "plugins[0].type"],
    ["cniVersion 1.1.0", conflistWith(RANGE, { cniVersion: "1.1.0" }), "cniVersion"],
  ].map(([name, text, field]) => ({
    kind: "plugins refuse",
    name: name!,
    file: "10-x.conflist",
    text: text!,
    field: field!,
  })),
  // Shape and syntax.
  ...[
    ["invalid JSON", "{", ""],
    ["an empty file", "", ""],
    ["not an object", "[1, 2]", ""],
    ["plugins not a list", JSON.stringify({ cniVersion: "1.0.0", name: "n", plugins: {} }), "plugins"],
    ["no name", JSON.stringify({ cniVersion: "1.0.0", plugins: [{ type: "ipvlan" }] }), "name"],
    ["an invalid network name", conflistWith(RANGE, { name: "a b/c" }), "name"],
    ["no cniVersion", JSON.stringify({ name: "n", plugins: [{ type: "ipvlan" }] }), "cniVersion"],
    [
      "ranges not a list of lists",
      conflistWith(RANGE, {}, { ipam: { type: "host-local", ranges: [RANGE] } }),
      "plugins[0].ipam.ranges[0]",
    ],
  ].map(([name, text, field]) => ({
    kind: "shape",
    name: name!,
    file: "10-x.conflist",
    text: text!,
    field: field!,
  })),
  // Read as the Go plugins read it: keys matched case-insensitively (Unicode simple folding), the
  // later of two wins; nesting deeper than encoding/json's 10,000 refused.
  ...[
    [
      "mode, then Mode",
      conflistWith().replace('"mode":"l3s"', '"mode":"l3s","Mode":"l2"'),
      "plugins[0].mode",
    ],
    [
      "mode, then MODE",
      conflistWith().replace('"mode":"l3s"', '"mode":"l3s","MODE":"bogus"'),
      "plugins[0].mode",
    ],
    [
      "dataDir, then DataDir",
      conflistWith().replace(
        '"dataDir":"/run/aks-ipvlan/ipam"',
        '"dataDir":"/run/aks-ipvlan/ipam","DataDir":"/var/lib/cni"',
      ),
      "plugins[0].ipam.dataDir",
    ],
    [
      "routes, then Routes",
      conflistWith().replace(
        '"routes":[{"dst":"0.0.0.0/0"}]',
        '"routes":[{"dst":"0.0.0.0/0"}],"Routes":[{"dst":"10.0.0.0/8"}]',
      ),
      "plugins[0].ipam.routes",
    ],
    [
      "master, then maſter (U+017F)",
      conflistWith().replace('"master":"eth0"', '"master":"eth0","ma\u017fter":"ipvl-host"'),
      "plugins[0].master",
    ],
    [
      "100,000 nested arrays",
      `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"portmap","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}]}`,
      "",
    ],
  ].map(([name, text, field]) => ({
    kind: "Go's JSON",
    name: name!,
    file: "10-x.conflist",
    text: text!,
    field: field!,
  })),
  // The datapath's own failures (DATAPATH.md).
  ...[
    ["mode l2", conflistWith(RANGE, {}, { mode: "l2" }), "plugins[0].mode"],
    ["no mode", conflistWith(RANGE, {}, { mode: undefined }), "plugins[0].mode"],
    [
      "gateway outside the subnet",
      conflistWith({ subnet: "10.224.0.16/28", gateway: "10.224.0.1" }),
      `${R}.gateway`,
    ],
    [
      "a persistent dataDir",
      conflistWith(
        RANGE,
        {},
        {
          ipam: {
            type: "host-local",
            dataDir: "/var/lib/cni",
            ranges: [[RANGE]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
      ),
      "plugins[0].ipam.dataDir",
    ],
    [
      "no default route",
      conflistWith(RANGE, {}, { ipam: { type: "host-local", dataDir: "/run/x", ranges: [[RANGE]] } }),
      "plugins[0].ipam.routes",
    ],
    ["no ipam", conflistWith(RANGE, {}, { ipam: undefined }), "plugins[0].ipam"],
    [".conf with a plugins list", conflistWith(), "plugins"],
  ].map(([name, text, field]) => ({
    kind: "datapath",
    name: name!,
    file: name === ".conf with a plugins list" ? "10-x.conf" : "10-x.conflist",
    text: text!,
    field: field!,
  })),
];
