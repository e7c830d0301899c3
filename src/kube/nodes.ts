// Reading Node objects: the address pods and routes use, the VM behind the node, and whether the
// kubelet reports Ready. The one place that reads a Node's spec and status, typed by kubernetes-models.
import type { INode } from "kubernetes-models/v1/Node";
import type { KubeObject } from "./client.ts";

/** The client hands out objects as JSON; a Node from the API server has kubernetes-models' shape. */
function asNode(node: KubeObject): INode {
  return node as unknown as INode;
}

export function internalIp(node: KubeObject): string | undefined {
  return asNode(node).status?.addresses?.find((address) => address.type === "InternalIP")?.address;
}

/** The cloud provider's ID of the node's VM (azure:///subscriptions/...). */
export function providerId(node: KubeObject): string | undefined {
  return asNode(node).spec?.providerID;
}

export function isNodeReady(node: KubeObject): boolean {
  return (asNode(node).status?.conditions ?? []).some(
    (condition) => condition.type === "Ready" && condition.status === "True",
  );
}
