// The seam between block allocation and each routing mode's cloud side. The allocation part keeps
// every node holding blocks (ledger, annotations, release timers); after each of its passes, and at
// every resync, it hands the same node view to the mode's syncer, which brings whatever lies outside
// the cluster in line with it: vnet.ts (the Azure route table and the NICs' IP forwarding), vxlan.ts
// (nothing: the agents build the overlay from the annotations). A new mode is one new file
// implementing RoutingSyncer, and its line in run.ts's ROUTING.
import type { NodeBlocks } from "../routes/routes.ts";
import type { KubeObject } from "../kube/client.ts";
import { internalIp, providerId } from "../kube/nodes.ts";
import type { ClusterSpec } from "../spec/schema.ts";
import type { Logger } from "pino";
import type { ArmOptions } from "../azure/arm-client.ts";
import type { ControllerMetrics } from "./metrics.ts";
import type { EventRecorder } from "./events.ts";

/** A node the API server shows now. */
export interface LiveNode {
  name: string;
  ip?: string;
  /** The cloud provider's ID of its VM (azure:///subscriptions/...). */
  providerID?: string;
}

export function liveNode(node: KubeObject): LiveNode {
  const ip = internalIp(node);
  const providerID = providerId(node);
  return { name: node.metadata.name, ...(ip ? { ip } : {}), ...(providerID ? { providerID } : {}) };
}

export interface NodesView {
  /**
   * Every node holding blocks, with the IP they are reached at: the live ones, and deleted ones until
   * their blocks leave the ledger (the grace period, while their pods may still answer).
   */
  routed: NodeBlocks[];
  live: LiveNode[];
}

export interface RoutingSyncer {
  /**
   * Brings this mode's cloud side in line with the nodes. `full` at every resync: what the syncer
   * remembers having checked is checked again (the cloud side may have changed behind its back).
   * Throws to be retried with backoff.
   */
  sync(view: NodesView, full: boolean): Promise<void>;
  /** `--dry-run`: what sync would change, as lines of text (comments or commands); changes nothing. */
  plan(view: NodesView): Promise<string[]>;
}

/** What a routing mode's syncer is made from (run.ts's ROUTING picks the maker by the spec's mode). */
export interface RoutingContext {
  spec: ClusterSpec;
  log: Logger;
  metrics: ControllerMetrics;
  record: EventRecorder;
  /** Where and how Azure is reached (tests: an in-test endpoint); only a mode that calls Azure reads it. */
  arm?: ArmOptions;
  enableIpForwarding?: boolean;
}
