// One set-up for the test/kube files that meet the in-test API server (test/apiserver) rather than the
// real one: what needs a kubelet (exec into pods: verify, doctor, the CLI's verify), or a state the
// real API server cannot be put in from outside (compaction on demand, injected failures). Per test:
// a fresh server, an admin client, and the actors the test starts, stopped after it.
import { afterEach, beforeEach } from "vitest";
import { startApiServer, type ApiServer, type ApiServerOptions } from "../apiserver/server.ts";
import { connect, type KubeApi } from "../../src/kube/client.ts";

export class InTestApiServer {
  server!: ApiServer;
  api!: KubeApi;
  /** Stop functions of the actors (test/kube/actors.ts) the test started; called after it. */
  readonly stops: Array<() => void> = [];
}

export function useInTestApiServer(options: ApiServerOptions = { bookmarkIntervalMs: 50 }): InTestApiServer {
  const kube = new InTestApiServer();
  beforeEach(async () => {
    kube.server = await startApiServer(options);
    kube.api = connect(kube.server.kubeConfig());
  });
  afterEach(async () => {
    kube.stops.splice(0).forEach((stop) => stop());
    await kube.server.close();
  });
  return kube;
}
