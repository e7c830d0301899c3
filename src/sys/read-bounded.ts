// Reading an input file (spec, kubeconfig, its CA and token, a CNI config) with a size and a time
// bound, whatever the path names: a huge or endless file (/dev/zero) must not fill memory, and a FIFO
// nobody writes must not block forever. Regular files are read up to the size bound; FIFOs and
// sockets are opened non-blocking and polled until end of file or the time bound; devices are
// refused (no configuration lives in one, and a read from a terminal cannot be cut short).
// Synchronous, as the kubeconfig loader that needs it is: inputs are small and read once per command.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

export interface ReadBounds {
  /** More than this many bytes is an error ("EFBIG"). */
  maxBytes: number;
  /** A FIFO or socket without end of file after this long is an error ("ETIMEDOUT"). */
  timeoutMs?: number;
}

/** A FIFO's writer gets this long by default: enough for `--config <(generate)`, not forever. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** How long to wait between reads of a pipe that has no data yet. */
const POLL_MS = 10;

/** An error with an errno-like code, so the one error path names it (cli/failure.ts). */
function failure(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export function readBounded(path: string, bounds: ReadBounds): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const info = fstatSync(fd);
    if (info.isDirectory())
      throw failure("EISDIR", `EISDIR: illegal operation on a directory, read '${path}'`);
    const pipe = info.isFIFO() || info.isSocket();
    if (!pipe && !info.isFile()) throw failure("ENODEV", `${path} is a device, not a file`);
    const deadline = Date.now() + (bounds.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const buffer = Buffer.alloc(64 * 1024);
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        if (Date.now() > deadline) {
          throw failure(
            "ETIMEDOUT",
            `${path} is a pipe that sent no end of file within ${(bounds.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`,
          );
        }
        Atomics.wait(pause, 0, 0, POLL_MS);
        continue;
      }
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
      length += bytesRead;
      if (length > bounds.maxBytes) throw failure("EFBIG", `${path} is larger than ${bounds.maxBytes} bytes`);
    }
    return Buffer.concat(chunks, length).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
