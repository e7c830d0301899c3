// Problems the controller reports once (a log line, and a Warning event on the node when there is
// one) instead of at every pass or resync, and forgets when they are fixed or the node is gone, so a
// later occurrence is news again and what is remembered stays bounded by the nodes there are.
import type { Logger } from "pino";
import type { EventRecorder } from "./events.ts";

/** The cluster-wide key: problems of no one node (logged, no event). */
const CLUSTER = "";

export class Reports {
  private readonly log: Logger;
  private readonly record: EventRecorder;
  /** Node name (CLUSTER for the cluster) → reason and message of each problem reported. */
  private readonly reported = new Map<string, Set<string>>();

  constructor(log: Logger, record: EventRecorder) {
    this.log = log;
    this.record = record;
  }

  /** Logs a problem once, with a Warning event on `node` unless it is the cluster's (node undefined). */
  warnOnce(node: string | undefined, reason: string, message: string): void {
    const key = `${reason}\n${message}`;
    const name = node ?? CLUSTER;
    let seen = this.reported.get(name);
    if (!seen) this.reported.set(name, (seen = new Set()));
    if (seen.has(key)) return;
    seen.add(key);
    this.log.warn({ ...(node === undefined ? {} : { node }), reason }, message);
    if (node !== undefined) this.record(node, "Warning", reason, message);
  }

  /** The node's (or the cluster's) problems of this reason are fixed: a later one is reported again. */
  forget(node: string | undefined, reason: string): void {
    const seen = this.reported.get(node ?? CLUSTER);
    for (const key of seen ?? []) if (key.startsWith(`${reason}\n`)) seen!.delete(key);
  }

  /** Forgets every node not in `live`. */
  keepOnly(live: ReadonlySet<string>): void {
    for (const name of this.reported.keys())
      if (name !== CLUSTER && !live.has(name)) this.reported.delete(name);
  }
}
