// Making the node's overlay match desiredOverlay(): read the device and its entries with `ip -json`
// and `bridge -json`, plan the difference (plan.ts), apply it with one `ip -batch -` and one
// `bridge -batch -`: one process per tool, whatever the number of peers. Between resyncs, a Node event
// applies only the entries that changed since the last apply (applyPeerChanges), in the same two batches.
import { CommandError, type Runner } from "../sys/exec.ts";
import { OVERLAY_TABLE, type Overlay } from "./desired.ts";
import { planOverlay, planPeerChanges, type OverlayPlan, type OverlayRepair } from "./plan.ts";
import { ipBatch, parseIpJson, LinkSchema, RouteSchema } from "../sys/ip-json.ts";
import { FdbSchema, NeighSchema, RuleSchema, type KernelOverlay } from "./state.ts";

async function readOverlay(runner: Runner, device: string): Promise<KernelOverlay> {
  const [links, routes, tableRoutes, rules] = await Promise.all([
    runner("ip", ["-json", "-details", "link", "show"]),
    runner("ip", ["-json", "-4", "route", "show", "table", "main"]),
    tableRoutesOf(runner),
    runner("ip", ["-json", "-4", "rule", "show"]),
  ]);
  const parsedLinks = parseIpJson(LinkSchema, links.stdout);
  const exists = parsedLinks.some((link) => link.ifname === device);
  const [neighbours, fdb] = exists
    ? await Promise.all([
        runner("ip", ["-json", "-4", "neigh", "show", "dev", device]),
        runner("bridge", ["-json", "fdb", "show", "dev", device]),
      ])
    : [undefined, undefined];
  return {
    links: parsedLinks,
    routes: parseIpJson(RouteSchema, routes.stdout),
    tableRoutes: parseIpJson(RouteSchema, tableRoutes),
    rules: parseIpJson(RuleSchema, rules.stdout),
    neighbours: neighbours ? parseIpJson(NeighSchema, neighbours.stdout) : [],
    fdb: fdb ? parseIpJson(FdbSchema, fdb.stdout) : [],
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
  await runPlan(runner, plan);
  return plan.repairs;
}

/**
 * A Node event between two resyncs: only the entries that differ between the overlay last applied and
 * the next one, without reading the kernel back (planPeerChanges). A failed batch (an entry to delete
 * already gone, the device removed) throws; the caller then runs the full reconcile, which repairs.
 */
export async function applyPeerChanges(
  runner: Runner,
  before: Overlay,
  after: Overlay,
): Promise<OverlayRepair[]> {
  const plan = planPeerChanges(before, after);
  await runPlan(runner, plan);
  return plan.repairs;
}

/** The ip batch first: it may create the device the forwarding entries need. */
async function runPlan(runner: Runner, plan: OverlayPlan): Promise<void> {
  await ipBatch(runner, plan.ip, "vxlan");
  if (plan.bridge.length > 0)
    await runner("bridge", ["-batch", "-"], { input: `${plan.bridge.join("\n")}\n` });
}

/**
 * Deletes the device (its routes, neighbour and forwarding entries go with it) and the rules into the
 * overlay's table; whether anything existed.
 */
export async function cleanupOverlay(runner: Runner, device: string): Promise<boolean> {
  const links = parseIpJson(LinkSchema, (await runner("ip", ["-json", "-details", "link", "show"])).stdout);
  const rules = parseIpJson(RuleSchema, (await runner("ip", ["-json", "-4", "rule", "show"])).stdout).filter(
    (rule) => rule.priority === OVERLAY_TABLE,
  );
  const exists = links.some((link) => link.ifname === device);
  const batch = [
    ...(exists ? [`link del ${device}`] : []),
    ...rules.map(() => `rule del pref ${OVERLAY_TABLE}`),
  ];
  if (batch.length === 0) return false;
  await ipBatch(runner, batch, "vxlan");
  return true;
}
