// `aks-ipvlan plan`: the routing mode and the pods' MTU, which block each node gets, its pod addresses,
// warnings, and how other nodes reach the blocks: the VNet routes (vnet) or the overlay entries (vxlan).
import type { Command } from "commander";
import { stringify } from "yaml";
import { UserError } from "../../errors/user-error.ts";
import { loadSpec } from "../../spec/load.ts";
import { type Plan, plan } from "../../ipam/planner.ts";
import { formatSeverityFinding, formatTable, printJson, useColour } from "../output.ts";

const FORMATS = ["table", "json", "yaml"] as const;

export function register(program: Command): void {
  program
    .command("plan")
    .description(
      "show the routing mode and pod MTU, each node's block, its pod addresses and capacity, warnings, and the route-table (vnet) or overlay (vxlan) entries",
    )
    .requiredOption("--config <file>", "cluster spec (YAML)")
    .option("-o, --output <format>", `output format: ${FORMATS.join(", ")}`, "table")
    .action(async (flags: { config: string; output: string }) => {
      if (!(FORMATS as readonly string[]).includes(flags.output)) {
        throw new UserError([
          {
            path: "--output",
            value: flags.output,
            message: "unknown output format",
            fix: `use one of: ${FORMATS.join(", ")}`,
          },
        ]);
      }
      const result = plan(await loadSpec(flags.config));
      if (flags.output === "json") printJson(result);
      else if (flags.output === "yaml") process.stdout.write(stringify(result));
      else process.stdout.write(planTable(result, useColour()));
    });
}

export function planTable(result: Plan, colour = false): string {
  const nodes = formatTable(
    ["NODE", "NODE IP", "BLOCK", "FIRST POD", "LAST POD", "CAPACITY"],
    result.nodes.flatMap((node) =>
      node.blocks.map((block, index) => [
        index === 0 ? node.name : "",
        index === 0 ? node.ip : "",
        block.cidr,
        block.firstPod,
        block.lastPod,
        block.capacity,
      ]),
    ),
    colour,
  );
  const warnings = result.warnings
    .map((warning) => formatSeverityFinding("warning", warning, colour))
    .join("");
  return [
    routingLine(result),
    nodes,
    `${result.freeBlocks} free blocks left in the pod pool\n`,
    ...(warnings ? [warnings] : []),
    ...reachTable(result, colour),
  ].join("\n");
}

function routingLine(result: Plan): string {
  const mtu = result.podMtu === undefined ? "the master interface's" : String(result.podMtu);
  const how =
    result.routingMode === "vnet"
      ? "pods reach other nodes through the Azure route table"
      : "pods reach other nodes through a VXLAN overlay, no Azure route table";
  return `routing mode ${result.routingMode} (${how}); pod MTU ${mtu}\n`;
}

/** How pods on other nodes reach each block: the route table's entries, or the overlay's. */
function reachTable(result: Plan, colour: boolean): string[] {
  if (result.routingMode === "vxlan") {
    return [
      "Overlay entries every other node programs (blocks -> node IP, through its VXLAN device):\n",
      formatTable(
        ["NODE", "NODE IP", "BLOCKS"],
        result.overlay.map((peer) => [peer.name, peer.ip, peer.blocks.join(",")]),
        colour,
      ),
    ];
  }
  return [
    "Route-table entries the VNet needs (block -> node):\n",
    formatTable(
      ["ROUTE", "ADDRESS PREFIX", "NEXT HOP TYPE", "NEXT HOP"],
      result.routes.map((route) => [
        route.name,
        route.addressPrefix,
        route.nextHopType,
        route.nextHopIpAddress,
      ]),
      colour,
    ),
  ];
}
