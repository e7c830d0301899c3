// The one HTTP server of the agent and the controller: a few GET routes on a listen address, plain
// text or JSON, /healthz always. The address arrives checked (the spec's schema, the CLI's --listen).
import type { Server } from "node:http";
import { parseListen } from "../net/listen.ts";

interface Reply {
  /** 200 unless set. */
  code?: number;
  type: string;
  body: string;
}

/** Keyed by path ("/metrics"); a route that throws answers 500 with the error's message. */
export type Routes = Readonly<Record<string, () => Reply | Promise<Reply>>>;

export async function listenHttp(address: string, routes: Routes): Promise<Server> {
  const { host, port } = parseListen(address);
  const all: Routes = { "/healthz": () => ({ type: "text/plain", body: "ok\n" }), ...routes };
  // Not `import … from "node:http"`: its ESM namespace reads http.WebSocket, which loads undici
  // (≈ 9 MB of RSS the agent never uses; bench/agent.ts measures it).
  const server = process.getBuiltinModule("node:http").createServer((request, response) => {
    const send = ({ code = 200, type, body }: Reply) =>
      void response.writeHead(code, { "content-type": type }).end(body);
    const path = (request.url ?? "/").split("?")[0]!;
    const route = Object.hasOwn(all, path) ? all[path] : undefined;
    if (request.method !== "GET")
      return send({ code: 405, type: "text/plain", body: "method not allowed\n" });
    if (!route) return send({ code: 404, type: "text/plain", body: "not found\n" });
    Promise.resolve()
      .then(route)
      .then(send, (error: Error) => send({ code: 500, type: "text/plain", body: `${error.message}\n` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
