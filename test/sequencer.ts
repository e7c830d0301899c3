// The order test files start in: the real-kernel files first, longest first, so that their guests
// (one busy CPU each) overlap with each other and with the unit tests on the other worker, instead of
// starting last because their files are small. The rest in vitest's own order.
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Longest first, as measured (the note of issue 19 has the figures). */
const KERNEL_FILES = [
  "test/e2e/agent.test.ts",
  "test/faults/agents.test.ts",
  "test/e2e/cluster.test.ts",
  "test/e2e/netpol.test.ts",
  "test/e2e/runners.test.ts",
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
