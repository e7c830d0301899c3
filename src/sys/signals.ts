// Stopping on SIGTERM (the kubelet ending a pod) or SIGINT (Ctrl-C): the long-running programs take it
// as an AbortSignal, so every loop stops the same way, and a test stops them without a signal.
const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Aborts, with the signal's name as its reason, on the first SIGTERM or SIGINT; then stops listening. */
export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    controller.abort(name);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return controller.signal;
}
