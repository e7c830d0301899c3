// The order test files start in: the real-kernel and package files first, longest first, so that
// their guests (one busy CPU each) overlap with each other and with the unit tests on the other
// worker, instead of starting last because their files are small. The rest in vitest's own order.
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Longest first, as measured on a quiet 2-core machine (seconds; the note of issue 19). */
const KERNEL_FILES = [
  "test/e2e/lifecycle.test.ts", // 206 (load 4; 342-498 at load 5-10)
  "test/package/image.test.ts", // 195
  "test/e2e/cluster.test.ts", // 186
  "test/e2e/agent.test.ts", // 157
  "test/faults/agents.test.ts", // 136
  "test/e2e/vxlan.test.ts", // 114 (156 at load 8)
  "test/e2e/netpol.test.ts", // 96
  "test/e2e/runners.test.ts", // 66
  "test/package/installed.test.ts", // 58
  "test/faults/process.test.ts", // 54
];

export default class KernelFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = KERNEL_FILES.findIndex((path) => file.moduleId.endsWith(`/${path}`));
      return index === -1 ? KERNEL_FILES.length : index;
    };
    const rest = await super.sort(files.filter((file) => rank(file) === KERNEL_FILES.length));
    const kernel = files.filter((file) => rank(file) < KERNEL_FILES.length).sort((a, b) => rank(a) - rank(b));
    return [...kernel, ...rest];
  }
}
