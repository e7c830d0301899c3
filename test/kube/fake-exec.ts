// A fake of the API server's pod exec, behind the PodExec interface (test/apiserver/exec.ts serves the
// same answers over the real WebSocket protocol): answers the verification suite's busybox commands as a cluster would, from the pods and nodes the
// in-test API server holds. `broken` names paths that fail, for negative controls.
import type { ApiServer } from "../apiserver/server.ts";
import type { ExecResult, PodExec, PodTarget } from "../../src/kube/exec.ts";

export interface FakeExecOptions {
  /** Pods see this address instead of their own in HTTP answers (a broken source-preserving path). */
  rewriteSourceTo?: string;
  /** Exec fails outright (the API server refused the upgrade). */
  refuse?: boolean;
}

/** How a healthy (or `options`-broken) cluster answers the suite's commands in a pod of `server`. */
export function clusterAnswers(server: ApiServer, options: FakeExecOptions = {}) {
  return (target: PodTarget, argv: readonly string[]): ExecResult => {
    const pod = server.get("v1", "Pod", target.name, target.namespace);
    if (!pod) return { code: 1, stdout: "", stderr: `pod ${target.name} not found` };
    const spec = pod.spec as { hostNetwork?: boolean };
    const status = pod.status as { podIP?: string; hostIP?: string };
    const self = spec.hostNetwork ? status.hostIP : status.podIP;
    return answer([...argv], self ?? "?", Boolean(spec.hostNetwork), options);
  };
}

export function fakeExec(server: ApiServer, options: FakeExecOptions = {}) {
  const calls: Array<{ target: PodTarget; argv: string[] }> = [];
  const answers = clusterAnswers(server, options);
  const exec: PodExec = {
    async exec(target, argv) {
      calls.push({ target, argv: [...argv] });
      if (options.refuse) throw new Error("Unexpected server response: 403");
      return answers(target, argv);
    },
  };
  return { exec, calls };
}

function answer(argv: string[], self: string, onNode: boolean, options: FakeExecOptions): ExecResult {
  const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: "" });
  // `busybox timeout N COMMAND...` runs COMMAND (the fake never takes that long).
  if (argv[1] === "timeout") return answer(argv.slice(3), self, onNode, options);
  const [, applet, ...rest] = argv;
  if (applet === "ip" && rest[0] === "link")
    return ok("2: eth0@if3: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue\n");
  if (applet === "ip") return ok("default via 10.224.0.16 dev eth0\n10.224.0.0/16 dev eth0 scope link\n");
  if (applet === "nslookup") return ok(`Server:\t10.0.0.10\n\nName:\tgoogle.com\nAddress: 142.250.0.1\n`);
  if (applet === "ping") return ok("1 packets transmitted, 1 packets received\n");
  if (applet === "wget") {
    const url = new URL(rest.at(-1)!);
    if (["168.63.129.16", "169.254.169.254"].includes(url.hostname) && !onNode) {
      return { code: 1, stdout: "", stderr: "wget: download timed out\n" };
    }
    return ok(`${options.rewriteSourceTo ?? self}:40000\n`);
  }
  return { code: 127, stdout: "", stderr: `${applet}: applet not found\n` };
}
