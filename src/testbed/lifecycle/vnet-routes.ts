// The emulated Azure route table of the lifecycle scenario. The controller runs without Azure (the
// spec names no route table, so it only allocates blocks: src/controller/run.ts), and this stands in
// for the route writes it would make: every node's blocks, as the controller annotated them, become
// the VNet's routes (block → node IP, the product's own desiredRoutes), and a block that leaves a node
// leaves the table.
import type { ClusterSpec } from "../../spec/schema.ts";
import type { KubeReader } from "../../kube/api.ts";
import { Informer } from "../../kube/informer.ts";
import { internalIp } from "../../kube/nodes.ts";
import { BLOCKS_ANNOTATION, parseBlocksAnnotation } from "../../ipam/annotation.ts";
import { desiredRoutes, type RouteEntry } from "../../routes/routes.ts";
import { Coalescer } from "../../sys/coalesce.ts";
import { VNET, routeTableCommands, type Topology } from "../guest/topology.ts";
import { ipBatch } from "../guest/netns.ts";

/** Keeps the VNet's routes equal to the nodes' annotated blocks until `signal` aborts. */
export async function followBlocks(
  api: KubeReader,
  spec: ClusterSpec,
  topology: Topology,
  signal: AbortSignal,
  onError: (error: unknown) => void,
): Promise<void> {
  let applied: RouteEntry[] = [];
  const sync = new Coalescer(async () => {
    const nodes = [...informer.objects.values()].flatMap((node) => {
      const ip = internalIp(node);
      const blocks = parseBlocksAnnotation(node.metadata.annotations?.[BLOCKS_ANNOTATION]);
      return ip ? [{ name: node.metadata.name, ip, blocks }] : [];
    });
    const desired = desiredRoutes(spec, nodes);
    const key = (route: RouteEntry) => `${route.addressPrefix}>${route.nextHopIpAddress}`;
    const wanted = new Set(desired.map(key));
    const had = new Set(applied.map(key));
    const gone = applied.filter((route) => !wanted.has(key(route)));
    const added = desired.filter((route) => !had.has(key(route)));
    await ipBatch(VNET, [
      ...routeTableCommands(topology, gone, "del"),
      ...routeTableCommands(topology, added, "add"),
    ]);
    applied = desired;
  }, onError);
  const informer = new Informer(api, "v1", "Node", {
    onEvent: () => sync.kick(),
    onSynced: () => sync.kick(),
    onError,
  });
  await informer.run(signal);
  await sync.stop();
}
