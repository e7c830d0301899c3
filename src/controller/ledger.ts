// The block ledger: one ConfigMap recording which node holds which block. Node annotations alone
// cannot stop two controllers (say, an old and a new leader during a handover) from giving the same
// block to two different nodes: a resourceVersion precondition guards one object, and the race is
// between two. Every claim and release is therefore first written to this one object with its
// resourceVersion as precondition, so of two racing writers one gets 409 Conflict and re-plans; only
// then is the block written to the node's annotation for the agent. Many claims share one write.
import { formatCidr, parseCidr } from "../net/cidr.ts";
import { KubeApiError, type KubeApi, type KubeObject, type ObjectRef } from "../kube/client.ts";
import { LEDGER_NAME } from "../manifests/names.ts";
import type { ControllerMetrics } from "./metrics.ts";

/** ConfigMap keys allow [-._a-zA-Z0-9]: "10.241.0.16/28" is stored as "10.241.0.16_28". */
function ledgerKey(block: string): string {
  return block.replace("/", "_");
}

/** Block → node name. Keys that are not blocks (edited by hand) are ignored. */
export function parseLedger(data: Record<string, string> | undefined): Map<string, string> {
  const ledger = new Map<string, string>();
  for (const [key, node] of Object.entries(data ?? {})) {
    try {
      ledger.set(formatCidr(parseCidr(key.replace("_", "/"))), node);
    } catch {
      // not a block: leave it alone
    }
  }
  return ledger;
}

/** The ConfigMap `data` of a merge patch that records claims and erases releases. */
export function ledgerPatchData(
  claims: ReadonlyMap<string, string>,
  releases: readonly string[],
): Record<string, string | null> {
  const data: Record<string, string | null> = {};
  for (const block of releases) data[ledgerKey(block)] = null;
  for (const [block, node] of claims) data[ledgerKey(block)] = node;
  return data;
}

/** The ledger ConfigMap as the controller reads and writes it: created when missing, written with its resourceVersion. */
export class LedgerStore {
  /** Block → node, as last read or written. */
  blocks = new Map<string, string>();
  private version: string | undefined;
  private readonly api: KubeApi;
  private readonly ref: ObjectRef;
  private readonly metrics: ControllerMetrics;

  constructor(api: KubeApi, namespace: string, metrics: ControllerMetrics) {
    this.api = api;
    this.ref = { apiVersion: "v1", kind: "ConfigMap", name: LEDGER_NAME, namespace };
    this.metrics = metrics;
  }

  /** False until read, and again after a conflict. */
  get loaded(): boolean {
    return this.version !== undefined;
  }

  async load(): Promise<void> {
    let ledger = await this.api.get(this.ref);
    if (!ledger) {
      ledger = await this.api
        .create({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: this.ref.name, namespace: this.ref.namespace },
          data: {},
        })
        .catch(async (error: unknown) => {
          if (error instanceof KubeApiError && error.code === 409) return (await this.api.get(this.ref))!;
          throw error;
        });
    }
    this.use(ledger);
  }

  /** Records claims and releases; false when another writer changed the ledger first (it is re-read). */
  async write(claims: ReadonlyMap<string, string>, releases: readonly string[]): Promise<boolean> {
    try {
      const written = await this.api.mergePatch(this.ref, {
        metadata: { name: this.ref.name, namespace: this.ref.namespace, resourceVersion: this.version },
        data: ledgerPatchData(claims, releases),
      });
      this.use(written);
      return true;
    } catch (error) {
      if (!(error instanceof KubeApiError) || (error.code !== 409 && error.code !== 404)) throw error;
      this.metrics.conflicts.add(1, { object: "ledger" });
      this.version = undefined;
      await this.load();
      return false;
    }
  }

  private use(ledger: KubeObject): void {
    this.blocks = parseLedger(ledger.data as Record<string, string> | undefined);
    this.version = ledger.metadata.resourceVersion;
  }
}
