// client-node reads each answer whole (undici's fetch, then text()), so an API server that sends an
// endless body would grow the command until the machine runs out of memory long before the request's
// deadline (measured: doctor at 2.7 GB in 12 s). This interceptor ends the request once the body passes
// the bound, with an error naming it; the agent's own client (rest-client.ts) counts the same way.
import type { Dispatcher } from "undici";
import { ClusterUnreachableError } from "./errors.ts";

/** `dispatcher`, whose requests fail once an answer's body passes `maxBytes`. */
export function boundedBody(dispatcher: Dispatcher, maxBytes: number, server: string): Dispatcher {
  return dispatcher.compose(
    (dispatch) => (options, handler) => dispatch(options, new BodyLimit(handler, maxBytes, server)),
  );
}

class BodyLimit implements Dispatcher.DispatchHandler {
  readonly inner: Dispatcher.DispatchHandler;
  readonly maxBytes: number;
  readonly server: string;
  #received = 0;

  constructor(inner: Dispatcher.DispatchHandler, maxBytes: number, server: string) {
    this.inner = inner;
    this.maxBytes = maxBytes;
    this.server = server;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#received += chunk.length;
    if (this.#received > this.maxBytes) {
      controller.abort(
        new ClusterUnreachableError(`${this.server} sent an answer larger than ${this.maxBytes} bytes`),
      );
      return;
    }
    this.inner.onResponseData?.(controller, chunk);
  }

  // The rest is the inner handler's, unchanged.
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.inner.onRequestStart?.(controller, context);
  }
  onRequestUpgrade(...args: Parameters<NonNullable<Dispatcher.DispatchHandler["onRequestUpgrade"]>>): void {
    this.inner.onRequestUpgrade?.(...args);
  }
  onResponseStarted(): void {
    this.inner.onResponseStarted?.();
  }
  onResponseStart(...args: Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseStart"]>>): void {
    this.inner.onResponseStart?.(...args);
  }
  onResponseEnd(...args: Parameters<NonNullable<Dispatcher.DispatchHandler["onResponseEnd"]>>): void {
    this.inner.onResponseEnd?.(...args);
  }
  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.inner.onResponseError?.(controller, error);
  }
  onBodySent(chunk: Buffer): void {
    this.inner.onBodySent?.(chunk);
  }
  onRequestSent(): void {
    this.inner.onRequestSent?.();
  }
}
