// Exec into a pod over the API server's WebSocket protocol, against the in-test API server's exec
// endpoint (test/apiserver/exec.ts): the real API server hands exec to a kubelet, and there is none yet.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiServer } from "../apiserver/server.ts";
import { useInTestApiServer } from "./in-test-server.ts";
import { serveExec, type ExecRequest } from "../apiserver/exec.ts";
import { apiPodExec, ExecTimeoutError } from "../../src/kube/exec.ts";

const kube = useInTestApiServer({});
let server: ApiServer;
let dropExecs: () => void = () => undefined;
const requests: ExecRequest[] = [];
beforeEach(async () => {
  server = kube.server;
  requests.length = 0;
  dropExecs = serveExec(server, (request) => {
    requests.push(request);
    const [program, ...args] = request.command;
    if (program === "hang") return undefined;
    if (program === "fail") return { code: 3, stderr: "it broke\n" };
    return { code: 0, stdout: `${args.join(" ")}\n`, stderr: "note\n" };
  });
});
afterEach(() => {
  dropExecs();
});

const target = { namespace: "ns", name: "pod-a", container: "client" };

describe("exec through the API server's WebSocket protocol", () => {
  it("passes the argument array unchanged and collects stdout, stderr and exit 0", async () => {
    const result = await apiPodExec(server.kubeConfig()).exec(target, ["echo", "a b", "$(no shell)"]);
    expect(result).toEqual({ code: 0, stdout: "a b $(no shell)\n", stderr: "note\n" });
    expect(requests).toEqual([
      { namespace: "ns", pod: "pod-a", container: "client", command: ["echo", "a b", "$(no shell)"] },
    ]);
  });

  it("reads the exit code from the NonZeroExitCode status", async () => {
    expect(await apiPodExec(server.kubeConfig()).exec(target, ["fail"])).toEqual({
      code: 3,
      stdout: "",
      stderr: "it broke\n",
    });
  });

  it("gives up on a command that does not finish in time", async () => {
    await expect(
      apiPodExec(server.kubeConfig()).exec(target, ["hang"], { timeoutMs: 200 }),
    ).rejects.toBeInstanceOf(ExecTimeoutError);
  });
});
