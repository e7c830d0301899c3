// The guest's program (started by init.sh as the only Node process): reads the job from the run
// directory, builds the emulated cluster once per profile, runs the suite (and the negative controls on
// the product's cluster), and writes the results back for the host.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { release } from "node:os";
import { loadSpec } from "../../spec/load.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { runSuite } from "../../verify/suite.ts";
import { RESULT_FILE, type SuiteJob, type SuiteResult } from "../job.ts";
import { Testbed } from "./cluster.ts";
import { runControls } from "./controls.ts";
import { productProfile, seedProfile, type ProfileName } from "./node-setup.ts";

const ROOT = "/run/testbed";

function log(line: string): void {
  process.stdout.write(`testbed: ${line}\n`);
}

async function main(jobFile: string): Promise<void> {
  const job = JSON.parse(await readFile(jobFile, "utf8")) as SuiteJob;
  const resultFile = join(dirname(jobFile), RESULT_FILE);
  const result: SuiteResult = { kernel: release(), profiles: [], controls: [] };
  try {
    const spec = await loadSpec(job.specFile);
    for (const name of job.profiles) {
      const profile = name === "product" ? productProfile(job.specFile) : seedProfile(spec);
      log(`building ${spec.nodes.length} nodes (${name})`);
      let started = performance.now();
      const testbed = await Testbed.build(spec, profile, join(ROOT, name));
      const setupMs = Math.round(performance.now() - started);
      log(`cluster ready in ${setupMs} ms; running the suite`);
      started = performance.now();
      const results = await runSuite(testbed, { runId: name });
      const suiteMs = Math.round(performance.now() - started);
      for (const check of results) log(`${check.status.padEnd(4)} ${check.id} (${check.reason})`);
      result.profiles.push({
        profile: name as ProfileName,
        nodes: spec.nodes.length,
        results,
        setupMs,
        suiteMs,
      });
      if (name === "product" && job.controls) result.controls = await runControls(testbed, log);
      await testbed.teardown();
    }
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
    log(`error: ${result.error}`);
  }
  await writeFileAtomic(resultFile, `${JSON.stringify(result, null, 2)}\n`);
}

await main(process.argv[2]!);
