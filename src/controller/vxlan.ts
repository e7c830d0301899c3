// routing.mode vxlan, the cloud side: nothing. Pods on other nodes are reached through the VXLAN
// overlay the agents build from the node block annotations alone, so the controller makes no Azure
// call, needs no credentials and keeps no route table; allocating blocks is all it does.
import type { RoutingSyncer } from "./routing.ts";

export class VxlanRouting implements RoutingSyncer {
  async sync(): Promise<void> {}

  async plan(): Promise<string[]> {
    return [
      "# routing.mode vxlan: no route table; each node's agent programs the overlay from the annotations",
    ];
  }
}
