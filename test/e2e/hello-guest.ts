// The smallest guest program (run by test/e2e/runners.test.ts): proves that the kernel ran a process,
// Node, to the end, by writing the kernel's release to result.json.
import { dirname, join } from "node:path";
import { release } from "node:os";
import { writeFileAtomic } from "../../src/sys/atomic-write.ts";
import { RESULT_FILE } from "../../src/testbed/job.ts";

const jobFile = process.argv[2]!;
await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify({ kernel: release() })}\n`);
