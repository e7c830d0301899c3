// What the host asks the guest to do and what the guest answers, exchanged as JSON files in the run
// directory both sides see (the guest's root file system is the host's).
import type { CheckId, CheckResult } from "../verify/checks.ts";
import type { ProfileName } from "./guest/node-setup.ts";

export interface SuiteJob {
  /** The cluster spec file the guest and the node agent read. */
  specFile: string;
  profiles: ProfileName[];
  /** Also run the negative controls on the product's cluster. */
  controls: boolean;
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
  /** Set when the guest could not finish; the partial results above are still valid. */
  error?: string;
}

export const JOB_FILE = "job.json";
export const RESULT_FILE = "result.json";
