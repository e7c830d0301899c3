// One reconcile at a time per node, also across processes: two agents (a rollout's old and new pod,
// or a manual `agent --once` next to the DaemonSet) must not interleave their iptables-restore and
// file writes. flock(1) holds an exclusive lock on a file for as long as its child `cat` reads our
// pipe; cat echoing our first byte says the lock is held. The kernel drops the lock when the pipe
// closes, also when this process is killed with -9.
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";

export async function withNodeLock<T>(lockFile: string, work: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockFile), { recursive: true });
  const holder = spawn("flock", ["--exclusive", lockFile, "cat"], { stdio: ["pipe", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let said = "";
    holder.stdout.once("data", () => resolve());
    holder.stderr.on("data", (chunk: Buffer) => (said += chunk.toString("utf8")));
    holder.on("error", (error) => reject(new Error(`flock ${lockFile}: ${error.message}`, { cause: error })));
    holder.on("close", (code) => reject(new Error(`flock ${lockFile} exited ${code}: ${said.trim()}`)));
    holder.stdin.write("\n");
  });
  const released = new Promise((resolve) => holder.on("close", resolve));
  try {
    return await work();
  } finally {
    holder.stdin.end();
    await released;
  }
}
