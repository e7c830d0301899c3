// Reading Node objects: the address pods and routes use, the VM behind the node, and whether the
// kubelet reports Ready. The one place that reads a Node's spec and status, typed by kubernetes-models.
import type { KubeObject } from "./client.ts";
import { modelOf } from "./models.ts";

const asNode = (node: KubeObject) => modelOf("v1/Node", node);

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
