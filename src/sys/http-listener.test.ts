import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { listenHttp } from "./http-listener.ts";

let server: Server | undefined;
afterEach(() => server?.close());

async function start(routes: Parameters<typeof listenHttp>[1]): Promise<string> {
  server = await listenHttp("127.0.0.1:0", routes);
  const { address, port } = server.address() as AddressInfo;
  expect(address).toBe("127.0.0.1");
  return `http://127.0.0.1:${port}`;
}

describe("listenHttp", () => {
  it("answers its routes, /healthz always, 404 elsewhere and 405 to anything but GET", async () => {
    const base = await start({
      "/metrics": () => ({ type: "text/plain; version=0.0.4", body: "x 1\n" }),
      "/readyz": async () => ({ code: 503, type: "text/plain", body: "not ready\n" }),
    });
    const metrics = await fetch(`${base}/metrics?debug=1`);
    expect([metrics.status, metrics.headers.get("content-type"), await metrics.text()]).toEqual([
      200,
      "text/plain; version=0.0.4",
      "x 1\n",
    ]);
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, "ok\n"]);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/status`)).status).toBe(404);
    expect((await fetch(`${base}/toString`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("answers 500 with the message when a route fails", async () => {
    const base = await start({
      "/status": async () => {
        throw new Error("reading the sysctl failed");
      },
    });
    const response = await fetch(`${base}/status`);
    expect([response.status, await response.text()]).toEqual([500, "reading the sysctl failed\n"]);
  });

  it("refuses an address that is not a.b.c.d:port before binding anything", async () => {
    await expect(listenHttp(":0", {})).rejects.toThrow(/not an IPv4 address and port/);
  });
});
