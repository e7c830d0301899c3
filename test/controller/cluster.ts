// Per test: an in-test API server with the controller's namespace, and the loops the test starts
// (controllers, informers), all stopped and awaited after it.
import { afterEach, beforeEach } from "vitest";
import { startApiServer, type ApiServer } from "../apiserver/server.ts";
import type { KubeApi } from "../../src/kube/client.ts";
import { prepareCluster } from "./harness.ts";

export class TestCluster {
  server!: ApiServer;
  api!: KubeApi;
  private readonly stops: AbortController[] = [];
  private readonly running: Array<Promise<void>> = [];

  /** Runs `loop` until the test ends; the returned controller stops it earlier. */
  spawn(loop: (signal: AbortSignal) => Promise<void>): AbortController {
    const stop = new AbortController();
    this.stops.push(stop);
    this.running.push(loop(stop.signal));
    return stop;
  }

  async open(): Promise<void> {
    this.server = await startApiServer({ bookmarkIntervalMs: 100 });
    this.api = prepareCluster(this.server);
  }

  async close(): Promise<void> {
    this.stops.splice(0).forEach((stop) => stop.abort());
    await Promise.all(this.running.splice(0));
    await this.server.close();
  }
}

export function useTestCluster(): TestCluster {
  const cluster = new TestCluster();
  beforeEach(() => cluster.open());
  afterEach(() => cluster.close());
  return cluster;
}
