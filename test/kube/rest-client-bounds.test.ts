// The agent's client against API servers that misbehave: an endless response body is cut at the
// client's bound (not read into memory until the process dies), and a kubeconfig that is a FIFO or a
// device is refused instead of read forever.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { restClient } from "../../src/kube/rest-client.ts";
import { restConfigFromKubeconfig } from "../../src/kube/rest-config.ts";
import { ClusterUnreachableError } from "../../src/kube/errors.ts";
import { UserError } from "../../src/errors/user-error.ts";
import { tempDirSync } from "../fakes/temp-dir.ts";

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

describe("bounded responses", () => {
  it("an endless body: the request fails at the size bound instead of reading on", async () => {
    const chunk = Buffer.alloc(1024 * 1024, "x");
    let sent = 0;
    server = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      const pump = () => {
        while (response.write(chunk)) sent += chunk.length;
        sent += chunk.length;
      };
      response.on("drain", pump);
      response.on("close", () => response.off("drain", pump));
      pump();
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const client = restClient({ server: `http://127.0.0.1:${port}` });
    const error = await client.list("v1", "Node").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClusterUnreachableError);
    expect((error as Error).message).toMatch(/EFBIG/);
    // Negative control for the bound: the server did send past it before the client hung up.
    expect(sent).toBeGreaterThan(128 * 1024 * 1024);
  }, 120_000);
});

describe("bounded kubeconfig reads", () => {
  it("/dev/zero and a FIFO nobody writes are refused, not read forever", async () => {
    await expect(restConfigFromKubeconfig("/dev/zero")).rejects.toThrow(UserError);
    await expect(restConfigFromKubeconfig("/dev/zero")).rejects.toThrow(/a device, not a file/);
    const fifo = join(tempDirSync("aks-ipvlan-kube-"), "kubeconfig");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    await expect(restConfigFromKubeconfig(fifo)).rejects.toThrow(UserError);
  });
});
