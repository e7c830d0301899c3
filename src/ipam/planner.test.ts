import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseSpec, validateSpec } from "../spec/load.ts";
import type { ClusterSpecInput } from "../spec/schema.ts";
import { UserError } from "../errors/user-error.ts";
import { type Plan, plan } from "./planner.ts";
import {
  containsIp,
  formatCidr,
  formatIp,
  lastAddress,
  overlaps,
  parseCidr,
  parseCidrOrIp,
  parseIp,
} from "../net/cidr.ts";

const SEED =
  "nodeSubnet: 10.224.0.0/16\nmaxPodsPerNode: 16\nnodes:\n- {name: node1, ip: 10.224.0.4}\n- {name: node2, ip: 10.224.0.5}\n- {name: node3, ip: 10.224.0.6}\n";

function blocksByNode(result: Plan): Record<string, string[]> {
  return Object.fromEntries(result.nodes.map((node) => [node.name, node.blocks.map((block) => block.cidr)]));
}

function findings(action: () => unknown) {
  try {
    action();
  } catch (error) {
    if (error instanceof UserError) return error.findings;
    throw error;
  }
  throw new Error("expected a UserError");
}

function spec(input: Partial<ClusterSpecInput>) {
  return validateSpec({ nodeSubnet: "10.224.0.0/24", maxPodsPerNode: 16, ...input });
}

describe("plan on the seed's cluster", () => {
  it("gives node1..3 the seed's /28 blocks, their pod addresses and the VNet routes", () => {
    const result = plan(parseSpec(SEED));
    expect(blocksByNode(result)).toEqual({
      node1: ["10.224.0.16/28"],
      node2: ["10.224.0.32/28"],
      node3: ["10.224.0.48/28"],
    });
    expect(result.nodes[0]!.blocks[0]).toEqual({
      cidr: "10.224.0.16/28",
      firstPod: "10.224.0.16",
      lastPod: "10.224.0.31",
      capacity: 16,
      rangeSubnet: "10.224.0.0/16",
      gateway: "10.224.0.1",
    });
    expect(result.routes).toEqual([
      {
        name: "aks-ipvlan-aks-10-224-0-16-28",
        addressPrefix: "10.224.0.16/28",
        nextHopType: "VirtualAppliance",
        nextHopIpAddress: "10.224.0.4",
      },
      {
        name: "aks-ipvlan-aks-10-224-0-32-28",
        addressPrefix: "10.224.0.32/28",
        nextHopType: "VirtualAppliance",
        nextHopIpAddress: "10.224.0.5",
      },
      {
        name: "aks-ipvlan-aks-10-224-0-48-28",
        addressPrefix: "10.224.0.48/28",
        nextHopType: "VirtualAppliance",
        nextHopIpAddress: "10.224.0.6",
      },
    ]);
    // 4096 blocks in the /16; the first (Azure-reserved .0-.3 and node IPs) and the last (.255.255) are forbidden.
    expect(result.freeBlocks).toBe(4096 - 2 - 3);
  });

  it("warns that the pool is inside the node subnet and says how to avoid it", () => {
    const warnings = plan(parseSpec(SEED)).warnings;
    expect(warnings).toEqual([
      expect.objectContaining({
        path: "podPool[0]",
        fix: expect.stringContaining("outside the node subnet"),
      }),
    ]);
  });

  it("warns when maxPodsPerNode is not set", () => {
    const warnings = plan(validateSpec({ nodeSubnet: "10.224.0.0/16", podPool: ["10.241.0.0/16"] })).warnings;
    expect(warnings.map((warning) => warning.path)).toEqual(["maxPodsPerNode"]);
  });
});

describe("a pool outside the node subnet", () => {
  it("uses the pool as host-local's subnet and never hands out its network, gateway or broadcast block", () => {
    const result = plan(
      spec({
        podPool: ["10.241.0.0/26"],
        nodes: [
          { name: "a", ip: "10.224.0.4" },
          { name: "b", ip: "10.224.0.5" },
        ],
      }),
    );
    expect(blocksByNode(result)).toEqual({ a: ["10.241.0.16/28"], b: ["10.241.0.32/28"] });
    expect(result.nodes[0]!.blocks[0]).toMatchObject({
      rangeSubnet: "10.241.0.0/26",
      gateway: "10.241.0.1",
      capacity: 16,
    });
    expect(result.freeBlocks).toBe(0);
    expect(result.warnings).toEqual([]);
  });
});

describe("routing modes", () => {
  const nodes = [
    { name: "b", ip: "10.224.0.5" },
    { name: "a", ip: "10.224.0.4" },
  ];

  it("vnet: the route table's entries, no overlay, the master interface's MTU unless the spec sets one", () => {
    const result = plan(spec({ podPool: ["10.241.0.0/26"], nodes }));
    expect(result.routingMode).toBe("vnet");
    expect(result.podMtu).toBeUndefined();
    expect(result.routes.map((route) => [route.addressPrefix, route.nextHopIpAddress])).toEqual([
      ["10.241.0.32/28", "10.224.0.5"],
      ["10.241.0.16/28", "10.224.0.4"],
    ]);
    expect(result.overlay).toEqual([]);
    expect(plan(spec({ podPool: ["10.241.0.0/26"], nodes, mtu: 9000 })).podMtu).toBe(9000);
  });

  it("vxlan: no Azure route, every node's IP and blocks as overlay entries, the node MTU less 50", () => {
    const result = plan(
      spec({ podPool: ["10.241.0.0/26"], nodes, maxBlocksPerNode: 2, routing: { mode: "vxlan" } }),
    );
    expect(result.routingMode).toBe("vxlan");
    expect(result.podMtu).toBe(1450);
    expect(result.routes).toEqual([]);
    expect(result.overlay).toEqual([
      { name: "b", ip: "10.224.0.5", blocks: ["10.241.0.32/28"] },
      { name: "a", ip: "10.224.0.4", blocks: ["10.241.0.16/28"] },
    ]);
  });

  it("warns of a full route table only where there is one (vnet)", () => {
    const many = Array.from({ length: 3 }, (_, i) => ({ name: `n${i}`, ip: `10.224.0.${4 + i}` }));
    const input = { podPool: ["10.241.0.0/24"], nodes: many };
    const vnet = plan(spec({ ...input, routing: { routeTableLimit: 2 } }));
    expect(vnet.warnings).toEqual([
      expect.objectContaining({
        path: "nodes",
        message: expect.stringContaining("routing.routeTableLimit 2"),
      }),
    ]);
    expect(plan(spec({ ...input, routing: { mode: "vxlan", routeTableLimit: 2 } })).warnings).toEqual([]);
  });
});

describe("pinned, held and extra nodes", () => {
  it("honours a pinned block and gives the others the lowest free ones", () => {
    const result = plan(
      spec({
        nodes: [
          { name: "a", ip: "10.224.0.4" },
          { name: "b", ip: "10.224.0.5", block: "10.224.0.16/28" },
        ],
      }),
    );
    expect(blocksByNode(result)).toEqual({ a: ["10.224.0.32/28"], b: ["10.224.0.16/28"] });
  });

  it("keeps held blocks, also for nodes not planned, and plans extra nodes after the listed ones", () => {
    const held = new Map([
      ["gone", ["10.224.0.32/28"]],
      ["x", ["10.224.0.64/28"]],
    ]);
    const result = plan(spec({ nodes: [{ name: "a", ip: "10.224.0.4" }] }), {
      held,
      extraNodes: [
        { name: "x", ip: "10.224.0.5" },
        { name: "y", ip: "10.224.0.6" },
        { name: "a", ip: "10.224.0.9" },
      ],
    });
    expect(blocksByNode(result)).toEqual({
      a: ["10.224.0.16/28"],
      x: ["10.224.0.64/28"],
      y: ["10.224.0.48/28"],
    });
    expect(result.routes.map((route) => route.addressPrefix)).not.toContain("10.224.0.32/28");
  });

  it("never hands out the block of an extra node's IP", () => {
    const result = plan(spec({ nodes: [{ name: "a", ip: "10.224.0.4" }] }), {
      extraNodes: [{ name: "x", ip: "10.224.0.20" }],
    });
    expect(blocksByNode(result)).toEqual({ a: ["10.224.0.32/28"], x: ["10.224.0.48/28"] });
  });

  it("refuses a pin that takes a held block away from its node", () => {
    const problems = findings(() =>
      plan(
        spec({
          nodes: [
            { name: "a", ip: "10.224.0.4" },
            { name: "b", ip: "10.224.0.5", block: "10.224.0.16/28" },
          ],
        }),
        {
          held: new Map([["a", ["10.224.0.16/28"]]]),
        },
      ),
    );
    expect(problems).toEqual([
      expect.objectContaining({
        path: "nodes[1].block",
        value: "10.224.0.16/28",
        message: "10.224.0.16/28 is already held by a",
      }),
    ]);
  });

  it("refuses a held block that now contains a new node's IP", () => {
    const problems = findings(() =>
      plan(spec({ nodes: [{ name: "a", ip: "10.224.0.4" }] }), {
        held: new Map([["a", ["10.224.0.16/28"]]]),
        extraNodes: [{ name: "x", ip: "10.224.0.17" }],
      }),
    );
    expect(problems).toEqual([
      expect.objectContaining({
        path: "held[a]",
        message: expect.stringContaining("IP of node x"),
        fix: expect.any(String),
      }),
    ]);
  });
});

describe("bad plans: every problem at once, each with path, value and fix", () => {
  it.each([
    ["a pin outside the pool", "10.225.0.16/28", "is not a /28 block of the pod pool"],
    ["a pin of the wrong size", "10.224.0.32/27", "is not a /28 block of the pod pool"],
    ["a pin over the Azure-reserved addresses", "10.224.0.0/28", "Azure-reserved address"],
    ["a pin over the subnet's last address", "10.224.0.240/28", "Azure-reserved address"],
    ["a pin over a node IP", "10.224.0.64/28", "IP of node b"],
    ["a pin over a reserved range", "10.224.0.128/28", "reserved 10.224.0.128/26"],
  ])("refuses %s", (_name, block, message) => {
    const problems = findings(() =>
      plan(
        spec({
          reserved: ["10.224.0.128/26"],
          nodes: [
            { name: "a", ip: "10.224.0.4", block },
            { name: "b", ip: "10.224.0.66" },
          ],
        }),
      ),
    );
    expect(problems).toEqual([
      expect.objectContaining({
        path: "nodes[0].block",
        value: block,
        message: expect.stringContaining(message),
        fix: expect.stringMatching(/pin a free block/),
      }),
    ]);
  });

  it("refuses two nodes pinning one block", () => {
    const problems = findings(() =>
      plan(
        spec({
          nodes: [
            { name: "a", ip: "10.224.0.4", block: "10.224.0.16/28" },
            { name: "b", ip: "10.224.0.5", block: "10.224.0.16/28" },
          ],
        }),
      ),
    );
    expect(problems).toEqual([
      expect.objectContaining({ path: "nodes[1].block", message: "10.224.0.16/28 is already held by a" }),
    ]);
  });

  it("reports an exhausted pool for each node left without a block", () => {
    // /26 in a /26 node subnet: block .0 (Azure-reserved, node IPs) and .48 (last address) are forbidden.
    const problems = findings(() =>
      plan(
        spec({
          nodeSubnet: "10.224.0.0/26",
          nodes: ["a", "b", "c", "d"].map((name, i) => ({ name, ip: `10.224.0.${4 + i}` })),
        }),
      ),
    );
    expect(problems.map((p) => [p.path, p.value])).toEqual([
      ["nodes[2]", "c"],
      ["nodes[3]", "d"],
    ]);
    expect(problems[0]!.message).toMatch(/pod pool is exhausted/);
    expect(problems[0]!.fix).toMatch(/podPool|blockSize/);
  });

  it("refuses a block capacity below maxPodsPerNode together with the other problems, and proposes a block size", () => {
    const problems = findings(() =>
      plan(spec({ maxPodsPerNode: 30, nodes: [{ name: "a", ip: "10.224.0.4", block: "10.224.0.0/28" }] })),
    );
    expect(problems.map((p) => p.path)).toEqual(["maxPodsPerNode", "nodes[0].block"]);
    expect(problems[0]).toMatchObject({ value: 30, fix: expect.stringContaining("blockSize: 27") });
  });

  it.each([
    [["10.224.0.0/30"], "smaller than one /28 block"],
    [["10.224.0.0/16"], "overlaps nodeSubnet 10.224.0.0/24 without being inside it"],
    [["10.241.0.0/24", "10.241.0.128/25"], "overlaps podPool[0] 10.241.0.0/24"],
  ])("refuses the pod pool %j", (podPool, message) => {
    const problems = findings(() => plan(spec({ podPool })));
    expect(problems).toEqual([
      expect.objectContaining({ path: `podPool[${podPool.length - 1}]`, message, fix: expect.any(String) }),
    ]);
  });
});

// Random clusters: a node subnet of /20-/23, blocks of /26-/29, the pool inside it or outside it,
// up to 24 nodes, a few reserved ranges. Plans that exhaust the pool are discarded.
const cluster = fc
  .record({
    prefix: fc.integer({ min: 20, max: 23 }),
    blockSize: fc.integer({ min: 26, max: 29 }),
    outside: fc.boolean(),
    nodeOffsets: fc.uniqueArray(fc.integer({ min: 4, max: 510 }), { minLength: 1, maxLength: 24 }),
    reserved: fc.array(
      fc.record({ offset: fc.integer({ min: 0, max: 511 }), prefix: fc.integer({ min: 26, max: 32 }) }),
      { maxLength: 3 },
    ),
  })
  .map(({ prefix, blockSize, outside, nodeOffsets, reserved }) => {
    const subnet = parseCidr(`10.224.0.0/${prefix}`);
    return {
      nodeSubnet: formatCidr(subnet),
      ...(outside ? { podPool: [`10.241.0.0/${prefix}`] } : {}),
      blockSize,
      maxPodsPerNode: 2 ** (32 - blockSize),
      nodes: nodeOffsets.map((offset, i) => ({ name: `node${i}`, ip: formatIp(subnet.base + offset) })),
      reserved: reserved.map(({ offset, prefix: p }) => {
        const base = subnet.base + offset;
        return formatCidr({ base: p === 32 ? base : base - (base % 2 ** (32 - p)), prefix: p });
      }),
    } satisfies ClusterSpecInput;
  });

function tryPlan(...args: Parameters<typeof plan>): Plan | undefined {
  try {
    return plan(...args);
  } catch (error) {
    if (error instanceof UserError && error.findings.every((f) => f.message.includes("exhausted")))
      return undefined;
    throw error;
  }
}

describe("planner properties", () => {
  it("hands out disjoint blocks, deterministically", () => {
    fc.assert(
      fc.property(cluster, (input) => {
        const first = tryPlan(validateSpec(input));
        if (!first) return;
        expect(tryPlan(validateSpec(structuredClone(input)))).toEqual(first);
        const blocks = first.nodes.flatMap((node) => node.blocks.map((block) => parseCidr(block.cidr)));
        blocks.forEach((a, i) => blocks.slice(i + 1).forEach((b) => expect(overlaps(a, b)).toBe(false)));
      }),
    );
  });

  it("never puts a node IP, a reserved address or an Azure-reserved address inside a block", () => {
    fc.assert(
      fc.property(cluster, (input) => {
        const result = tryPlan(validateSpec(input));
        if (!result) return;
        const subnet = parseCidr(input.nodeSubnet);
        const forbidden = [
          ...[0, 1, 2, 3, lastAddress(subnet) - subnet.base].map((offset) => ({
            base: subnet.base + offset,
            prefix: 32,
          })),
          ...input.nodes.map((node) => ({ base: parseIp(node.ip), prefix: 32 })),
          ...input.reserved.map(parseCidrOrIp),
        ];
        for (const node of result.nodes) {
          for (const block of node.blocks) {
            const cidr = parseCidr(block.cidr);
            for (const range of forbidden)
              expect(overlaps(cidr, range), `${block.cidr} vs ${formatCidr(range)}`).toBe(false);
            // host-local also keeps back its subnet's network, gateway and broadcast addresses.
            const rangeSubnet = parseCidr(block.rangeSubnet);
            for (const address of [rangeSubnet.base, parseIp(block.gateway), lastAddress(rangeSubnet)]) {
              expect(containsIp(cidr, address)).toBe(false);
            }
          }
        }
      }),
    );
  });

  // Blocks go out in node-name order (as the controller hands them out), so a node appended to the
  // spec may sort before the others: what keeps their blocks is that they hold them, as the annotations
  // the controller wrote show.
  it("appending nodes never moves the block an existing node holds", () => {
    fc.assert(
      fc.property(cluster, fc.integer({ min: 1, max: 23 }), (input, keep) => {
        // The appended nodes' IPs must not fall into blocks already handed out: that is a conflict
        // the planner reports (see "refuses a held block that now contains a new node's IP").
        const full = { ...input, podPool: [`10.241.0.0/${parseCidr(input.nodeSubnet).prefix}`] };
        if (!tryPlan(validateSpec(full))) return;
        const before = plan(validateSpec({ ...full, nodes: full.nodes.slice(0, keep) }));
        const after = tryPlan(validateSpec(full), { held: new Map(Object.entries(blocksByNode(before))) });
        if (!after) return;
        for (const node of before.nodes)
          expect(blocksByNode(after)[node.name]).toEqual(node.blocks.map((b) => b.cidr));
      }),
    );
  });

  it("keeps every held block, whatever order the nodes come in", () => {
    fc.assert(
      fc.property(cluster, fc.integer(), (input, seed) => {
        const first = tryPlan(validateSpec(input));
        if (!first) return;
        const held = new Map(first.nodes.map((node) => [node.name, node.blocks.map((block) => block.cidr)]));
        const shuffled = [...input.nodes].sort(
          (a, b) => ((parseIp(a.ip) ^ seed) >>> 0) - ((parseIp(b.ip) ^ seed) >>> 0),
        );
        const again = plan(validateSpec({ ...input, nodes: shuffled }), { held });
        expect(blocksByNode(again)).toEqual(blocksByNode(first));
      }),
    );
  });
});
