// The agent's HTTP endpoints: liveness, readiness (after the first full reconcile), metrics, status.
import type { Server } from "node:http";
import { listenHttp } from "../sys/http-listener.ts";
import type { MetricsRegistry } from "../sys/metrics.ts";

export interface Endpoints {
  ready(): boolean;
  /** Shown in /readyz's body while not ready. */
  notReadyReason?(): string | undefined;
  status(): Promise<unknown>;
  metrics: MetricsRegistry;
}

export function listen(address: string, endpoints: Endpoints): Promise<Server> {
  const text = (body: string, code = 200) => ({ code, type: "text/plain", body });
  return listenHttp(address, {
    "/readyz": () => {
      if (endpoints.ready()) return text("ready\n");
      const reason = endpoints.notReadyReason?.();
      return text(`not ready${reason ? `: ${reason}` : ""}\n`, 503);
    },
    "/status": async () => ({
      type: "application/json",
      body: `${JSON.stringify(await endpoints.status(), null, 2)}\n`,
    }),
    "/metrics": () => ({ type: endpoints.metrics.contentType, body: endpoints.metrics.text() }),
  });
}
