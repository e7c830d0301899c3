// What the host asks the guest to do and what the guest answers, exchanged as JSON files in the run
// directory both sides see (the guest's root file system is the host's).
import type { RouteEntry } from "../routes/routes.ts";
import type { CheckId, CheckResult } from "../verify/checks.ts";
import type { ProfileName } from "./guest/node-setup.ts";

export interface SuiteJob {
  /** The cluster spec file the guest and the node agent read. */
  specFile: string;
  profiles: ProfileName[];
  /** Also run the negative controls on the product's cluster. */
  controls: boolean;
  /**
   * The product's VNet route table, e.g. what the controller wrote to Azure; default: the plan's
   * routes. Every next hop must be a node of the spec.
   */
  vnetRoutes?: RouteEntry[];
  /** After the product's suite: switch the VNet to a second route table and check the cross-node paths. */
  vnetRoutesAfter?: RouteSwitch;
}

export interface RouteSwitch {
  routes: RouteEntry[];
  /** The node whose routes the second table lacks: paths to its pods must fail, the others pass. */
  removedNode: string;
}

/** The cross-node check between two nodes after the switch. */
export interface PathRun {
  from: string;
  to: string;
  result: CheckResult;
}

export interface ProfileRun {
  profile: ProfileName;
  nodes: number;
  results: CheckResult[];
  setupMs: number;
  suiteMs: number;
}

export interface ControlRun {
  id: string;
  description: string;
  /** The checks this control must make fail. */
  mustFail: CheckId[];
  results: CheckResult[];
}

export interface SuiteResult {
  kernel: string;
  profiles: ProfileRun[];
  controls: ControlRun[];
  /** The cross-node paths after the switch to `vnetRoutesAfter`; empty without one. */
  afterSwitch: PathRun[];
  /** Set when the guest could not finish; the partial results above are still valid. */
  error?: string;
}

export const JOB_FILE = "job.json";
export const RESULT_FILE = "result.json";
