// The guest's program (started by init.sh as the only Node process): reads the job from the run
// directory, builds the emulated cluster once per profile, runs the suite (and the negative controls on
// the product's cluster; then, if the job says so, the cross-node paths after a switch of the VNet's
// route table), then the same for each further cluster the job names (one boot, several clusters),
// and writes the results back for the host.
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { release } from "node:os";
import { loadSpec } from "../../spec/load.ts";
import { podMtu } from "../../spec/mtu.ts";
import { writeFileAtomic } from "../../sys/atomic-write.ts";
import { runSuite } from "../../verify/suite.ts";
import {
  RESULT_FILE,
  SuiteJobSchema,
  readJsonFile,
  suiteStartsLine,
  type ClusterResult,
  type PathRun,
  type RouteSwitch,
  type SuiteJob,
  type SuiteResult,
} from "../job.ts";
import { Testbed } from "./cluster.ts";
import { runControls } from "./controls.ts";
import { SEED_GAPS, productProfile, seedProfile } from "./node-setup.ts";
import { runPolicyDemo } from "./policies.ts";
import { runOverlayChecks } from "./overlay-checks.ts";
import { runLifecycleJob } from "../lifecycle/guest.ts";

const ROOT = "/run/testbed";

function log(line: string): void {
  process.stdout.write(`testbed: ${line}\n`);
}

type RunFields = Omit<SuiteJob, "specFile" | "more">;

async function main(jobFile: string): Promise<void> {
  const { specFile, more, ...first } = await readJsonFile(jobFile, SuiteJobSchema);
  const result: SuiteResult = await runCluster(specFile, first, ROOT, (more ?? []).length === 0);
  try {
    for (const [index, { name, spec, ...fields }] of (result.error ? [] : (more ?? [])).entries()) {
      const dir = join(ROOT, "more", name);
      await mkdir(dir, { recursive: true });
      const file = join(dir, "spec.yaml");
      await writeFileAtomic(file, `${JSON.stringify(spec, null, 2)}\n`);
      log(`next cluster: ${name}`);
      const last = index === more!.length - 1;
      (result.more ??= []).push({ name, result: await runCluster(file, fields, dir, last) });
    }
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
  }
  await writeFileAtomic(join(dirname(jobFile), RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * Builds the cluster of `specFile` once per profile and runs what the job asks on it. The `last`
 * cluster of the boot is not torn down: the guest powers off next, which ends every namespace and
 * process at once (seconds of `netns del` and kills saved on UML).
 */
async function runCluster(
  specFile: string,
  job: RunFields,
  root: string,
  last: boolean,
): Promise<ClusterResult> {
  const result: ClusterResult = { kernel: release(), profiles: [], controls: [], afterSwitch: [] };
  try {
    const spec = await loadSpec(specFile);
    const expectedMtu = podMtu(spec);
    for (const name of job.profiles) {
      const profile = name === "product" ? productProfile(specFile, job.vnetRoutes) : seedProfile(spec);
      log(`building ${spec.nodes.length} nodes (${name})`);
      let started = performance.now();
      const testbed = await Testbed.build(spec, profile, join(root, name));
      const setupMs = Math.round(performance.now() - started);
      process.stdout.write(`${suiteStartsLine(setupMs)}\n`);
      started = performance.now();
      const results = await runSuite(testbed, {
        runId: name,
        ...(job.only ? { only: job.only } : {}),
        ...(name === "seed" ? { expectFail: SEED_GAPS } : {}),
        ...(expectedMtu === undefined ? {} : { podMtu: expectedMtu }),
      });
      const suiteMs = Math.round(performance.now() - started);
      for (const check of results) log(`${check.status.padEnd(4)} ${check.id} (${check.reason})`);
      result.profiles.push({
        profile: name,
        nodes: spec.nodes.length,
        results,
        setupMs,
        suiteMs,
      });
      if (name === "product" && job.policies) {
        started = performance.now();
        result.policies = await runPolicyDemo(testbed, join(root, name));
        for (const c of result.policies)
          log(
            `${c.wrong.length === 0 ? "pass" : "FAIL"} policy ${c.name}: ${c.cells} cells, ${c.wrong.length} wrong`,
          );
        log(`policy cases: ${Math.round(performance.now() - started)} ms`);
      }
      if (name === "product" && job.overlay) result.overlay = await runOverlayChecks(testbed, specFile, log);
      if (name === "product" && job.controls) result.controls = await runControls(testbed, log);
      if (name === "product" && job.vnetRoutesAfter)
        result.afterSwitch = await pathsAfterSwitch(testbed, job.vnetRoutesAfter);
      if (!last || name !== job.profiles.at(-1)) await testbed.teardown();
    }
  } catch (error) {
    result.error = (error as Error).stack ?? String(error);
    log(`error: ${result.error}`);
  }
  return result;
}

/**
 * Switches the VNet to the second route table, then checks pod → pod from the first remaining node to
 * the removed node and to every other remaining node. A request and its answer use the routes of both
 * ends' blocks, so these paths cover every route of the table.
 */
async function pathsAfterSwitch(testbed: Testbed, change: RouteSwitch): Promise<PathRun[]> {
  log(`VNet route table switched: ${change.routes.length} routes, none for ${change.removedNode}`);
  await testbed.switchRouteTable(change.routes);
  const [from, ...others] = (await testbed.nodes())
    .map((node) => node.name)
    .filter((name) => name !== change.removedNode);
  if (!from) throw new Error(`no node besides ${change.removedNode} to check paths from`);
  const runs: PathRun[] = [];
  for (const to of [change.removedNode, ...others]) {
    const [check] = await runSuite(testbed, {
      runId: `${from}-${to}`,
      only: ["pod-to-pod-cross-node"],
      nodes: [from, to],
      ...(to === change.removedNode ? { expectFail: ["pod-to-pod-cross-node"] as const } : {}),
    });
    log(`${check!.status.padEnd(4)} ${from} → ${to} (${check!.reason})`);
    runs.push({ from, to, result: check! });
  }
  return runs;
}

if (!(await runLifecycleJob(process.argv[2]!))) await main(process.argv[2]!);
