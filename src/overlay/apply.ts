// Making the node's overlay match desiredOverlay(): read the device and its entries with `ip -json`
// and `bridge -json`, plan the difference (plan.ts), apply it with one `ip -batch -` and one
// `bridge -batch -`: one process per tool, whatever the number of peers.
import { z } from "zod";
import { CommandError, type Runner } from "../sys/exec.ts";
import { OVERLAY_TABLE, type Overlay } from "./desired.ts";
import { planOverlay, type OverlayRepair } from "./plan.ts";
import { FdbSchema, LinkSchema, NeighSchema, RouteSchema, RuleSchema, type KernelOverlay } from "./state.ts";

const json = <T>(schema: z.ZodType<T>, text: string): T[] => z.array(schema).parse(JSON.parse(text || "[]"));

async function readOverlay(runner: Runner, device: string): Promise<KernelOverlay> {
  const [links, routes, tableRoutes, rules] = await Promise.all([
    runner("ip", ["-json", "-details", "link", "show"]),
    runner("ip", ["-json", "-4", "route", "show", "table", "main"]),
    tableRoutesOf(runner),
    runner("ip", ["-json", "-4", "rule", "show"]),
  ]);
  const parsedLinks = json(LinkSchema, links.stdout);
  const exists = parsedLinks.some((link) => link.ifname === device);
  const [neighbours, fdb] = exists
    ? await Promise.all([
        runner("ip", ["-json", "-4", "neigh", "show", "dev", device]),
        runner("bridge", ["-json", "fdb", "show", "dev", device]),
      ])
    : [undefined, undefined];
  return {
    links: parsedLinks,
    routes: json(RouteSchema, routes.stdout),
    tableRoutes: json(RouteSchema, tableRoutes),
    rules: json(RuleSchema, rules.stdout),
    neighbours: neighbours ? json(NeighSchema, neighbours.stdout) : [],
    fdb: fdb ? json(FdbSchema, fdb.stdout) : [],
  };
}

/** The overlay table's routes; a table that holds nothing does not exist (ip exits 2 and says so). */
async function tableRoutesOf(runner: Runner): Promise<string> {
  const result = await runner("ip", ["-json", "-4", "route", "show", "table", String(OVERLAY_TABLE)], {
    okCodes: [0, 2],
  });
  if (result.code === 0) return result.stdout;
  if (/table does not exist/i.test(result.stderr)) return "[]";
  throw new CommandError(`ip route show table ${OVERLAY_TABLE}`, result);
}

export async function applyOverlay(runner: Runner, overlay: Overlay): Promise<OverlayRepair[]> {
  const plan = planOverlay(overlay, await readOverlay(runner, overlay.device.name));
  try {
    if (plan.ip.length > 0) await runner("ip", ["-batch", "-"], { input: `${plan.ip.join("\n")}\n` });
  } catch (error) {
    if (error instanceof CommandError && /Unknown device type/i.test(error.result.stderr)) {
      throw new Error(
        "the kernel has no VXLAN support (kernel module `vxlan`, CONFIG_VXLAN): load it with `modprobe vxlan`, or use a node image whose kernel has it",
        { cause: error },
      );
    }
    throw error;
  }
  if (plan.bridge.length > 0)
    await runner("bridge", ["-batch", "-"], { input: `${plan.bridge.join("\n")}\n` });
  return plan.repairs;
}

/**
 * Deletes the device (its routes, neighbour and forwarding entries go with it) and the rules into the
 * overlay's table; whether anything existed.
 */
export async function cleanupOverlay(runner: Runner, device: string): Promise<boolean> {
  const links = json(LinkSchema, (await runner("ip", ["-json", "-details", "link", "show"])).stdout);
  const rules = json(RuleSchema, (await runner("ip", ["-json", "-4", "rule", "show"])).stdout).filter(
    (rule) => rule.priority === OVERLAY_TABLE,
  );
  const exists = links.some((link) => link.ifname === device);
  const batch = [
    ...(exists ? [`link del ${device}`] : []),
    ...rules.map(() => `rule del pref ${OVERLAY_TABLE}`),
  ];
  if (batch.length === 0) return false;
  await runner("ip", ["-batch", "-"], { input: `${batch.join("\n")}\n` });
  return true;
}
