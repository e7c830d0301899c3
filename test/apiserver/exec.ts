// Pod exec for the in-test API server (part of the test double): the real wire protocol of
// GET /api/v1/namespaces/NS/pods/NAME/exec — a WebSocket upgrade with subprotocol v4.channel.k8s.io,
// binary messages whose first byte is the channel (1 stdout, 2 stderr, 3 the final Status as JSON).
// Only server-to-client frames are written; stdin is not supported.
import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import type { ApiServer } from "./server.ts";

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}

/** undefined: never answer (a command that hangs). */
export type ExecHandler = (
  request: ExecRequest,
) => { code: number; stdout?: string; stderr?: string } | undefined;

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const PROTOCOL = "v4.channel.k8s.io";

/** Serves exec on `server`; returns a function that drops every open exec connection. */
export function serveExec(server: ApiServer, handler: ExecHandler): () => void {
  const sockets = new Set<Duplex>();
  server.onUpgrade((request, socket) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    const offered = String(request.headers["sec-websocket-protocol"] ?? "").split(/,\s*/);
    if (!match || !offered.includes(PROTOCOL)) {
      socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    const accept = createHash("sha1")
      .update(`${String(request.headers["sec-websocket-key"])}${WEBSOCKET_GUID}`)
      .digest("base64");
    socket.write(
      [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Accept: ${accept}`,
        `Sec-WebSocket-Protocol: ${PROTOCOL}`,
        "",
        "",
      ].join("\r\n"),
    );
    const result = handler({
      namespace: match[1]!,
      pod: match[2]!,
      container: url.searchParams.get("container") ?? "",
      command: url.searchParams.getAll("command"),
    });
    if (!result) return;
    if (result.stdout) socket.write(frame(0x2, channel(1, result.stdout)));
    if (result.stderr) socket.write(frame(0x2, channel(2, result.stderr)));
    socket.write(frame(0x2, channel(3, JSON.stringify(status(result.code)))));
    socket.write(frame(0x8, Buffer.from([0x03, 0xe8]))); // close, 1000 normal
    socket.end();
  });
  return () => sockets.forEach((socket) => socket.destroy());
}

function status(code: number): unknown {
  return code === 0
    ? { metadata: {}, status: "Success" }
    : {
        metadata: {},
        status: "Failure",
        message: `command terminated with non-zero exit code: ${code}`,
        reason: "NonZeroExitCode",
        details: { causes: [{ reason: "ExitCode", message: String(code) }] },
      };
}

function channel(number: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([number]), Buffer.from(text, "utf8")]);
}

/** One unmasked, final WebSocket frame (servers never mask). */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([header, payload]);
}

function bigLength(length: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(length));
  return buffer;
}
