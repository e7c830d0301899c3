// The agent's HTTP endpoints: liveness, readiness (after the first full reconcile), metrics, status.
import type { Server } from "node:http";
import { UserError } from "../errors/user-error.ts";

export interface Endpoints {
  ready(): boolean;
  /** Shown in /readyz's body while not ready. */
  notReadyReason?(): string | undefined;
  status(): Promise<unknown>;
  metrics: { contentType: string; text(): string };
}

export function parseListen(address: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(address);
  const port = Number(match?.[2]);
  if (!match || !match[1] || port > 65535) {
    throw new UserError([
      {
        path: "--listen",
        value: address,
        message: "not HOST:PORT",
        fix: "use e.g. 127.0.0.1:9464 (the default binds localhost only)",
      },
    ]);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, "$1"), port };
}

export async function listen(address: string, endpoints: Endpoints): Promise<Server> {
  const { host, port } = parseListen(address);
  // Not `import … from "node:http"`: its ESM namespace reads http.WebSocket, which loads undici
  // (≈ 9 MB of RSS the agent never uses; bench/agent.ts measures it).
  const server = process.getBuiltinModule("node:http").createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const send = (code: number, type: string, body: string) => {
      response.writeHead(code, { "content-type": type }).end(body);
    };
    if (request.method !== "GET") return send(405, "text/plain", "method not allowed\n");
    if (path === "/healthz") return send(200, "text/plain", "ok\n");
    if (path === "/readyz") {
      if (endpoints.ready()) return send(200, "text/plain", "ready\n");
      const reason = endpoints.notReadyReason?.();
      return send(503, "text/plain", `not ready${reason ? `: ${reason}` : ""}\n`);
    }
    const respond = (body: Promise<string>, type: string) =>
      body.then(
        (text) => send(200, type, text),
        (error: Error) => send(500, "text/plain", `${error.message}\n`),
      );
    if (path === "/status") {
      return void respond(
        endpoints.status().then((status) => `${JSON.stringify(status, null, 2)}\n`),
        "application/json",
      );
    }
    if (path === "/metrics") return send(200, endpoints.metrics.contentType, endpoints.metrics.text());
    send(404, "text/plain", "not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
