// Reading Node objects: the address pods and routes use, the VM behind the node, and whether the
// kubelet reports Ready. The one place that reads a Node's spec and status, typed by kubernetes-models.
import type { KubeObject } from "./client.ts";
import { modelOf } from "./models.ts";
import { BLOCKS_ANNOTATION } from "../ipam/annotation.ts";

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

/**
 * A Node cut down to what the agent's overlay and the controller read: name, resourceVersion, the
 * blocks annotation, InternalIP and providerID. A whole Node (labels, conditions, images, managed
 * fields) is kilobytes, and a store of a 5,000-node cluster holds every one.
 */
export function slimNode(node: KubeObject): KubeObject {
  const ip = internalIp(node);
  const providerID = providerId(node);
  const blocks = node.metadata.annotations?.[BLOCKS_ANNOTATION];
  return {
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: {
      name: node.metadata.name,
      ...(node.metadata.resourceVersion ? { resourceVersion: node.metadata.resourceVersion } : {}),
      ...(blocks === undefined ? {} : { annotations: { [BLOCKS_ANNOTATION]: blocks } }),
    },
    ...(providerID ? { spec: { providerID } } : {}),
    status: { addresses: ip ? [{ type: "InternalIP", address: ip }] : [] },
  };
}
