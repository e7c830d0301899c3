// The block ledger: one ConfigMap recording which node holds which block. Node annotations alone
// cannot stop two controllers (say, an old and a new leader during a handover) from giving the same
// block to two different nodes: a resourceVersion precondition guards one object, and the race is
// between two. Every claim and release is therefore first written to this one object with its
// resourceVersion as precondition, so of two racing writers one gets 409 Conflict and re-plans; only
// then is the block written to the node's annotation for the agent. Many claims share one write.
import { formatCidr, parseCidr } from "../net/cidr.ts";

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
