// Every Kubernetes object of an installation, in the order they can be applied, and their YAML text.
import { stringify } from "yaml";
import type { ClusterSpec } from "../spec/schema.ts";
import { configMapFindings } from "../spec/limits.ts";
import { UserError } from "../errors/user-error.ts";
import { agentDaemonSet } from "./agent.ts";
import { controllerDeployment, controllerServiceAccountAnnotations } from "./controller.ts";
import { agentRbac, controllerRbac } from "./rbac.ts";
import { AGENT_NAME, CONFIG_KEY, CONFIG_MAP_NAME, CONTROLLER_NAME, NAMESPACE, metadataOf } from "./names.ts";

/** A Kubernetes object as plain data. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export function renderManifests(spec: ClusterSpec): Manifest[] {
  const configData = { [CONFIG_KEY]: specText(spec) };
  const tooLarge = configMapFindings(CONFIG_MAP_NAME, configData);
  if (tooLarge.length > 0) throw new UserError(tooLarge);
  const controllerAnnotations = controllerServiceAccountAnnotations(spec);
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: metadataOf(NAMESPACE, false) },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: metadataOf(AGENT_NAME) },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: {
        ...metadataOf(CONTROLLER_NAME),
        ...(Object.keys(controllerAnnotations).length > 0 ? { annotations: controllerAnnotations } : {}),
      },
    },
    ...agentRbac({ policy: spec.agent.policy.enabled }),
    ...controllerRbac(),
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: metadataOf(CONFIG_MAP_NAME),
      // The validated spec with every default written out: agents read exactly what was planned.
      data: configData,
    },
    agentDaemonSet(spec),
    controllerDeployment(spec),
  ] as Manifest[];
}

function specText(spec: ClusterSpec): string {
  return stringify(spec);
}

/** Multi-document YAML, as `kubectl apply -f` reads it. */
export function manifestsText(manifests: readonly Manifest[]): string {
  return manifests.map((manifest) => stringify(manifest)).join("---\n");
}
