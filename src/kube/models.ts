// Kubernetes objects with their kind's fields typed as kubernetes-models (generated from the API's
// OpenAPI schema) spells them, instead of a cast at each use. The API server hands out only objects
// valid against that schema, so the kind is what is checked here.
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { ILease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import type { INode } from "kubernetes-models/v1/Node";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { IService } from "kubernetes-models/v1/Service";
import type { KubeObject } from "./api.ts";

interface Models {
  "v1/Pod": IPod;
  "v1/Node": INode;
  "v1/Service": IService;
  "apps/v1/DaemonSet": IDaemonSet;
  "apps/v1/Deployment": IDeployment;
  "coordination.k8s.io/v1/Lease": ILease;
}

export type Model<K extends keyof Models> = KubeObject & Models[K];

/** `object` as its kind's model; throws when it is another kind ("apiVersion/kind" names it). */
export function modelOf<K extends keyof Models>(kind: K, object: KubeObject): Model<K> {
  const actual = `${object.apiVersion}/${object.kind}`;
  if (actual !== kind) throw new Error(`expected a ${kind}, got ${actual} ${object.metadata.name}`);
  return object as Model<K>;
}
