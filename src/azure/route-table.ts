// The route table in Azure: list its routes, create or update one, delete one. Each change is a
// long-running ARM operation, awaited to its end.
import type { NetworkManagementClient } from "@azure/arm-network";
import type { RouteEntry } from "../routes/routes.ts";
import type { RouteTable } from "../routes/sync.ts";
import { type ArmCallObserver, observed, type RouteTableRef } from "./arm-client.ts";
import type { TableRoute } from "../routes/diff.ts";

export class ArmRouteTable implements RouteTable {
  private readonly client: NetworkManagementClient;
  private readonly ref: RouteTableRef;
  private readonly observe: ArmCallObserver | undefined;
  private readonly pollIntervalMs: number | undefined;

  constructor(
    client: NetworkManagementClient,
    ref: RouteTableRef,
    options: { observe?: ArmCallObserver; pollIntervalMs?: number } = {},
  ) {
    this.client = client;
    this.ref = ref;
    this.observe = options.observe;
    this.pollIntervalMs = options.pollIntervalMs;
  }

  list(): Promise<TableRoute[]> {
    return observed(this.observe, "routes.list", async () => {
      const routes: TableRoute[] = [];
      for await (const route of this.client.routes.list(this.ref.resourceGroup, this.ref.name)) {
        if (route.name) routes.push({ ...route, name: route.name });
      }
      return routes;
    });
  }

  async put(route: RouteEntry): Promise<void> {
    await observed(this.observe, "routes.createOrUpdate", () =>
      this.client.routes.beginCreateOrUpdateAndWait(
        this.ref.resourceGroup,
        this.ref.name,
        route.name,
        {
          addressPrefix: route.addressPrefix,
          nextHopType: route.nextHopType,
          nextHopIpAddress: route.nextHopIpAddress,
        },
        { updateIntervalInMs: this.pollIntervalMs },
      ),
    );
  }

  remove(name: string): Promise<void> {
    return observed(this.observe, "routes.delete", () =>
      this.client.routes.beginDeleteAndWait(this.ref.resourceGroup, this.ref.name, name, {
        updateIntervalInMs: this.pollIntervalMs,
      }),
    );
  }
}
