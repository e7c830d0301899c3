// Reading Node objects: the address pods and routes use, and whether the kubelet reports Ready.
import type { KubeObject } from "./client.ts";

export function internalIp(node: KubeObject): string | undefined {
  const addresses = (node.status as { addresses?: Array<{ type: string; address: string }> } | undefined)
    ?.addresses;
  return addresses?.find((address) => address.type === "InternalIP")?.address;
}

export function isNodeReady(node: KubeObject): boolean {
  const conditions = (node.status as { conditions?: Array<{ type: string; status: string }> } | undefined)
    ?.conditions;
  return (conditions ?? []).some((condition) => condition.type === "Ready" && condition.status === "True");
}
