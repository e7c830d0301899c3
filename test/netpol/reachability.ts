// A translated case as a world and a truth table: the x/y/z × a/b/c model with the case's labels and
// policies, the reference evaluator's verdict for every (client, server, probe) cell, and upstream's
// own expectation expanded over the pods upstream created.
import { mayConnect } from "../../src/policy/evaluate.ts";
import type { PolicyPod, PolicyWorld, Protocol } from "../../src/policy/model.ts";
import { MODEL_PODS, NAMESPACES, SERVED, type CaseEnv, type ModelPod, type NetpolCase } from "./cases.ts";

export interface Cell {
  from: ModelPod;
  to: ModelPod;
  port: number;
  protocol: Protocol;
  allowed: boolean;
}

/** The case's world in the cluster `env` describes; `nodeOf` places each pod. */
export function caseWorld(c: NetpolCase, env: CaseEnv, nodeOf: (pod: ModelPod) => string): PolicyWorld {
  const namespaces = NAMESPACES.map((ns) => ({
    name: env.ns(ns),
    labels: { ns: env.ns(ns), "kubernetes.io/metadata.name": env.ns(ns), ...c.namespaceLabels?.[ns] },
  }));
  const pods: PolicyPod[] = MODEL_PODS.map((model) => {
    const [ns, name] = model.split("/") as [(typeof NAMESPACES)[number], string];
    return {
      namespace: env.ns(ns),
      name,
      ip: env.ipOf(model),
      node: nodeOf(model),
      labels: { pod: name, ...c.podLabels?.[model] },
      ports: SERVED.map(({ port, protocol }) => ({
        name: `serve-${port}-${protocol.toLowerCase()}`,
        port,
        protocol,
      })),
    };
  });
  return { namespaces, pods, policies: c.policies(env) };
}

export function modelPodOf(world: PolicyWorld, env: CaseEnv, model: ModelPod): PolicyPod {
  const [ns, name] = model.split("/") as [(typeof NAMESPACES)[number], string];
  return world.pods.find((pod) => pod.namespace === env.ns(ns) && pod.name === name)!;
}

/** Every cell of the case's probes, as the reference evaluator sees it. */
export function expectedCells(
  c: NetpolCase,
  world: PolicyWorld,
  env: CaseEnv,
  nodeIPOf: (pod: PolicyPod) => string,
): Cell[] {
  const cells: Cell[] = [];
  for (const { port, protocol } of c.probes)
    for (const from of MODEL_PODS)
      for (const to of MODEL_PODS) {
        const client = modelPodOf(world, env, from);
        const server = modelPodOf(world, env, to);
        const allowed = mayConnect(world, { pod: client, ip: client.ip }, server, port, protocol, {
          nodeIPOf,
        });
        cells.push({ from, to, port, protocol, allowed });
      }
  return cells;
}

function covers(spec: string, pod: ModelPod): boolean {
  if (spec === "*") return true;
  const [ns, name] = spec.split("/");
  return pod.startsWith(`${ns}/`) && (name === "*" || pod === spec);
}

/** Upstream's truth table over the pods upstream created: default allowed, then each statement. */
export function upstreamTable(c: NetpolCase): Map<string, boolean> {
  const table = new Map<string, boolean>();
  const { pods, expect } = c.upstream!;
  for (const from of pods) for (const to of pods) table.set(`${from}>${to}`, true);
  for (const [fromSpec, toSpec, allowed] of expect)
    for (const from of pods)
      for (const to of pods)
        if (covers(fromSpec, from) && covers(toSpec, to)) table.set(`${from}>${to}`, allowed);
  return table;
}

export function caseTitle(c: NetpolCase): string {
  return c.step ? `${c.name} [${c.step}]` : c.name;
}
