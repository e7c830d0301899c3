// Platform limits a spec must fit, in one place: Kubernetes' ConfigMap size and Azure's route-table
// size; the spec loader, the planner, the manifest renderer and the controller all check against these.
import type { Finding } from "../errors/user-error.ts";

/**
 * Kubernetes refuses a ConfigMap whose data exceeds 1 MiB. The spec travels in one, so a larger spec
 * file can never reach the agents (and reading one costs the agent memory its 256Mi limit lacks).
 */
export const CONFIG_MAP_MAX_BYTES = 1024 * 1024;

/**
 * The CNI versions the plugins that ship accept: Debian's containernetworking-plugins (the agent image's
 * and the testbed's ipvlan, host-local and portmap) answer CNI_COMMAND=VERSION with these
 * (test/faults/plugins.test.ts asks them). lint accepts exactly these; the spec renders the two that
 * carry today's result format (0.4.0 for older runtimes, 1.0.0 the default).
 */
export const PLUGIN_CNI_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"] as const;
export const SPEC_CNI_VERSIONS = ["0.4.0", "1.0.0"] as const;

/**
 * The agent's resync interval, in seconds: at least a second (a shorter one only burns CPU), at most an
 * hour (drift stays unrepaired no longer; Node's timers hold at most 2^31-1 ms, about 24.8 days). The
 * spec's agent.resyncSeconds and the agent's --resync share it.
 */
export const RESYNC_SECONDS = { min: 1, max: 3600 } as const;

/** YAML aliases expand on read; a handful is plenty for a spec, thousands are an alias bomb. */
export const MAX_YAML_ALIASES = 100;

/**
 * Routes in one Azure route table: the documented "Routes per route table" limit, 400 until 2026 (the
 * figure that capped kubenet clusters at 400 nodes) and 1,000 since (azure-docs PRs #128572 and
 * #128759, networking limits page: azure-subscription-service-limits). One table serves a subnet and
 * must hold every block, so several node subnets do not raise it. The spec's routing.routeTableLimit.
 */
export const ROUTE_TABLE_LIMIT = 1000;

export function routeTableWarnings(routes: number, limit: number): Finding[] {
  if (routes <= limit) return [];
  return [
    {
      path: "nodes",
      value: `${routes} routes`,
      message: `more blocks need routes than one Azure route table holds (routing.routeTableLimit ${limit}): the routes beyond it fail and those nodes' pods are unreachable from other nodes`,
      fix: "use routing.mode: vxlan (an overlay needs no route table), or a shorter blockSize so fewer nodes need more than one block",
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
