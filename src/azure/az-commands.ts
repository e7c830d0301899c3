// The Azure CLI commands equivalent to a set of route changes: what `controller --dry-run` prints, so
// an operator can review them or apply them by hand. Pure.
import type { RouteTableRef } from "./arm-client.ts";
import type { RouteChanges } from "../routes/diff.ts";

export function azCommands(table: RouteTableRef, changes: Pick<RouteChanges, "put" | "remove">): string[][] {
  const where = [
    "--subscription",
    table.subscriptionId,
    "--resource-group",
    table.resourceGroup,
    "--route-table-name",
    table.name,
  ];
  return [
    ...changes.put.map((route) => [
      "az",
      "network",
      "route-table",
      "route",
      "create",
      ...where,
      "--name",
      route.name,
      "--address-prefix",
      route.addressPrefix,
      "--next-hop-type",
      route.nextHopType,
      "--next-hop-ip-address",
      route.nextHopIpAddress,
    ]),
    ...changes.remove.map((name) => [
      "az",
      "network",
      "route-table",
      "route",
      "delete",
      ...where,
      "--name",
      name,
    ]),
  ];
}

/** One command per line, each argument quoted only when the shell would need it. */
export function formatCommands(commands: readonly string[][]): string {
  return commands.map((args) => args.map(shellQuote).join(" ")).join("\n");
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
