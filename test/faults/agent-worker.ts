// One node agent process of the fault suite's guest (agents-guest.ts). Started once and fed one request
// per stdin line, it reconciles the node each time the way `agent --once` does (spec, context,
// reconcileNode under the node lock), so eight of them run twenty rounds without 160 Node start-ups.
// It names every point where a reconcile can be killed: its start, before, during and after each
// command that changes the node (through the agent's Runner seam, so the product carries no test
// hook), and its end; the in-process steps (sysctls, conflist) lie between two of these points.
// At the requested point it says so and, except "during" a command, waits there to be killed: the
// guest finds each kill moment by this event, not by timing.
import { createInterface } from "node:readline";
import { run, type Runner } from "../../src/sys/exec.ts";
import { createContext, readSpec, reconcileNode, type AgentOptions } from "../../src/agent/context.ts";
import { resolveNode } from "../../src/agent/node.ts";
import { desiredNode } from "../../src/agent/desired.ts";
import { reconcile } from "../../src/agent/reconcile.ts";
import { writeConflist } from "../../src/agent/cni-files.ts";
import {
  PAYLOAD_POINT,
  WorkerArgsSchema,
  WorkerRequestSchema,
  type WorkerEvent,
  type WorkerRequest,
} from "./agents-protocol.ts";

const args = WorkerArgsSchema.parse(JSON.parse(process.argv[2] ?? "null"));

function say(event: WorkerEvent): void {
  // A pipe is written synchronously on Linux: the guest has the line before we go on.
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function reconcileOnce(request: WorkerRequest): Promise<WorkerEvent> {
  const points: string[] = [];
  const at = async (point: string, wait: boolean): Promise<void> => {
    points.push(point);
    if (point !== request.stopAt) return;
    say({ event: "at", point });
    if (wait) await new Promise(() => undefined);
  };
  let commands = 0;
  const traced: Runner = async (file, argv, options) => {
    const name = `#${commands++} ${[file, ...argv].join(" ")}`;
    // The commands that change the node take their changes as input (`ip -batch -`, a restore
    // payload); a kill around a read leaves the same node as one at the change before or after it.
    if (options?.input === undefined) return run(file, argv, options);
    if (request.mode === "nat-first" && /^\*nat$/m.test(options.input) && /^\*filter$/m.test(options.input)) {
      const table = (name: string) =>
        new RegExp(`^\\*${name}\\n[\\s\\S]*?^COMMIT$`, "m").exec(options.input!)![0];
      await run(file, argv, { ...options, input: `${table("nat")}\n` });
      await at(PAYLOAD_POINT, true);
      return run(file, argv, { ...options, input: `${table("filter")}\n` });
    }
    await at(`before ${name}`, true);
    const running = run(file, argv, options);
    await at(`during ${name}`, false);
    const result = await running;
    await at(`after ${name}`, true);
    return result;
  };
  const options: AgentOptions = { config: request.config, node: args.node, paths: args.paths, kube: false };
  try {
    await at("start", true);
    const spec = await readSpec(options);
    const context = await createContext(options, { runner: traced });
    const desired = () => {
      const resolution = resolveNode(spec, args.node);
      if ("waiting" in resolution) throw new Error(resolution.waiting);
      return desiredNode(spec, resolution.node, args.paths);
    };
    let problems: string[];
    if (request.mode === "unlocked") {
      const report = await reconcile(desired(), args.paths, {
        runner: traced,
        backend: context.detection.backend,
        leakGraceSeconds: spec.agent.leakGraceSeconds,
      });
      problems = report.problems;
    } else {
      if (request.mode === "conflist-first") await writeConflist(args.paths.cniConfDir, desired().conflist);
      const outcome = await reconcileNode(context, spec);
      problems = "report" in outcome ? outcome.report.problems : [outcome.waiting];
    }
    await at("end", true);
    return { event: "done", ok: problems.length === 0, error: problems.join("; "), points };
  } catch (error) {
    return { event: "done", ok: false, error: (error as Error).message, points };
  }
}

say({ event: "ready" });
for await (const line of createInterface({ input: process.stdin })) {
  say(await reconcileOnce(WorkerRequestSchema.parse(JSON.parse(line))));
}
