// `agent --once`: one reconcile of this node and its summary (what was done, what is wrong, or what
// it waits for). The CLI prints the summary and exits 1 unless it is ok.
import { UserError } from "../errors/user-error.ts";
import { type AgentOptions, createContext, readSpec, reconcileNode } from "./context.ts";

export interface OnceOutcome {
  /** The JSON printed for the run. */
  summary: Record<string, unknown>;
  /** True when the node was reconciled without problems. */
  ok: boolean;
}

/** Bad input (UserError) is thrown; any other failure becomes a summary with its message. */
export async function reconcileOnce(options: AgentOptions): Promise<OnceOutcome> {
  const spec = await readSpec(options);
  const context = await createContext(options);
  try {
    const outcome = await reconcileNode(context, spec);
    const summary = "report" in outcome ? outcome.report : { node: options.node, waiting: outcome.waiting };
    return {
      summary: { ...summary, backendReason: context.detection.reason },
      ok: "report" in outcome && outcome.report.problems.length === 0,
    };
  } catch (error) {
    if (error instanceof UserError) throw error;
    return { summary: { node: options.node, error: (error as Error).message }, ok: false };
  }
}
