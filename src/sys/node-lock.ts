// One reconcile at a time per node, also across processes: two agents (a rollout's old and new pod,
// or a manual `agent --once` next to the DaemonSet) must not interleave their iptables-restore and
// file writes. flock(1) holds an exclusive lock on a file for as long as its child `cat` reads our
// pipe; cat echoing our first byte says the lock is held. The kernel drops the lock when the pipe
// closes, also when this process is killed with -9.
import { spawn } from "node:child_process";
import { dirname } from "node:path";
import { makeDirectory } from "./atomic-write.ts";

export async function withNodeLock<T>(lockFile: string, work: () => Promise<T>): Promise<T> {
  await makeDirectory(dirname(lockFile));
  const holder = spawn("flock", ["--exclusive", lockFile, "cat"], { stdio: ["pipe", "pipe", "pipe"] });
  let said = "";
  holder.stderr.on("data", (chunk: Buffer) => (said += chunk.toString("utf8")));
  // flock exits at once when it cannot create the lock file (a read-only mount, /proc): our write to
  // its stdin then fails with EPIPE. That 'error' event, unheard, would crash the agent; the exit
  // below reports the cause (flock's own message) instead.
  holder.stdin.on("error", () => undefined);
  const closed = new Promise<number | null>((resolve) => holder.on("close", resolve));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once("data", () => resolve());
    holder.on("error", (error) => reject(new Error(`flock ${lockFile}: ${error.message}`, { cause: error })));
    void closed.then((code) =>
      reject(new Error(`cannot lock ${lockFile}: flock exited ${code}: ${said.trim() || "no message"}`)),
    );
    holder.stdin.write("\n");
  });
  try {
    return await work();
  } finally {
    holder.stdin.end();
    await closed;
  }
}
