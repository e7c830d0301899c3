import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { AgentLog } from "./agent-log.ts";

/** A stand-in agent: prints the given lines and exits. */
function printer(lines: string[]) {
  const script = `for (const line of ${JSON.stringify(lines)}) console.log(line)`;
  return spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
}

describe("AgentLog", () => {
  it("resolves with the first matching JSON line, also one written just before the exit", async () => {
    const log = new AgentLog(
      printer(["not json", JSON.stringify({ msg: "serving", port: 1 }), JSON.stringify({ msg: "ready" })]),
    );
    const line = await log.waitFor((entry) => entry.msg === "ready", 30_000);
    expect(line.msg).toBe("ready");
    expect(log.lines.map((entry) => entry.msg)).toEqual(["not json", "serving", "ready"]);
  });

  it("rejects when the agent exits without the line", async () => {
    const log = new AgentLog(printer([JSON.stringify({ msg: "reconcile failed" })]));
    await expect(log.waitFor((entry) => entry.msg === "ready", 30_000)).rejects.toThrow(/exited \(0\)/);
  });
});
