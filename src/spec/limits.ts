// Platform limits a spec must fit, in one place: Kubernetes' ConfigMap size and Azure's route-table
// size; the spec loader, the planner, the manifest renderer and the controller all check against these.
import type { Finding } from "../errors/user-error.ts";

/**
 * Kubernetes refuses a ConfigMap whose data exceeds 1 MiB. The spec travels in one, so a larger spec
 * file can never reach the agents (and reading one costs the agent memory its 256Mi limit lacks).
 */
export const CONFIG_MAP_MAX_BYTES = 1024 * 1024;

/** YAML aliases expand on read; a handful is plenty for a spec, thousands are an alias bomb. */
export const MAX_YAML_ALIASES = 100;

/**
 * Azure allows 400 routes in one route table (the limit that also caps kubenet clusters at 400
 * nodes): with one route per block, a larger cluster needs larger or fewer blocks per node.
 */
export const ROUTES_PER_TABLE_LIMIT = 400;

export function routeTableWarnings(routes: number): Finding[] {
  if (routes <= ROUTES_PER_TABLE_LIMIT) return [];
  return [
    {
      path: "nodes",
      value: `${routes} routes`,
      message: `more blocks need routes than one Azure route table holds (${ROUTES_PER_TABLE_LIMIT}): the routes beyond it fail and those nodes' pods are unreachable from other nodes`,
      fix: "use a shorter blockSize so fewer nodes need more than one block, or split the nodes across subnets with their own route tables",
    },
  ];
}

/** The ConfigMap that carries the spec, refused before anything is rendered from it. */
export function configMapFindings(name: string, data: Record<string, string>): Finding[] {
  const bytes = Object.entries(data).reduce(
    (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value),
    0,
  );
  if (bytes <= CONFIG_MAP_MAX_BYTES) return [];
  return [
    {
      path: `ConfigMap ${name}`,
      value: `${bytes} bytes`,
      message: `larger than the ${CONFIG_MAP_MAX_BYTES} bytes Kubernetes allows in a ConfigMap: the API server refuses it`,
      fix: "shorten the spec (fewer nodes, reserved entries or non-masquerade CIDRs)",
    },
  ];
}
