// A namespace that exists only while a command runs (verify's test pods): created with a random
// name, deleted when the work ends, fails, or is interrupted (Ctrl-C, SIGTERM). Deleting the
// namespace takes every pod and service in it along.
import { randomBytes } from "node:crypto";
import type { KubeApi } from "./client.ts";

export interface Signals {
  once(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  off(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
}

export interface ScratchOptions {
  signals?: Signals;
  /** Called after the namespace is deleted on a signal; default: exit 130 as shells expect after Ctrl-C. */
  exit?: (code: number) => void;
  onDeleted?: (namespace: string) => void;
}

const SCRATCH_LABEL = "aks-ipvlan.io/scratch";

export async function withScratchNamespace<T>(
  api: KubeApi,
  prefix: string,
  body: (namespace: string, suffix: string) => Promise<T>,
  options: ScratchOptions = {},
): Promise<T> {
  const suffix = randomBytes(3).toString("hex");
  const name = `${prefix}-${suffix}`;
  const ref = { apiVersion: "v1", kind: "Namespace", name };
  await api.create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { [SCRATCH_LABEL]: prefix } },
  });
  let deleted: Promise<void> | undefined;
  const remove = () =>
    (deleted ??= api.delete(ref).then(
      () => options.onDeleted?.(name),
      // Leave the original failure (or the interrupt) as what the user sees.
      () => undefined,
    ));
  const signals = options.signals ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const interrupted = () => void remove().finally(() => exit(130));
  signals.once("SIGINT", interrupted);
  signals.once("SIGTERM", interrupted);
  try {
    return await body(name, suffix);
  } finally {
    signals.off("SIGINT", interrupted);
    signals.off("SIGTERM", interrupted);
    await remove();
  }
}
