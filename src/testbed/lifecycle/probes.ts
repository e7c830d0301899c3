// Connections between the scenario's pods, judged as the README's probe rule says: an answer (a page,
// or a refusal: every denial of the product is a REJECT) is final; silence is tried again, longer, and
// never counts as a denial.
import { run } from "../../sys/exec.ts";

export type Outcome = "allowed" | "denied" | "silent";

const TIMEOUTS_S = [3, 10, 30];

/** An HTTP GET from network namespace `ns` to `ip`:80; returns the outcome and the tries it took. */
export async function httpProbe(ns: string, ip: string): Promise<{ got: Outcome; tries: number }> {
  let tries = 0;
  for (const timeout of TIMEOUTS_S) {
    tries++;
    // prettier-ignore
    const result = await run("ip", [
      "netns", "exec", ns, "wget", "-nv", "-O", "/dev/null", "-T", String(timeout), "--tries=1", `http://${ip}/`,
    ], { okCodes: [0, 4, 8] });
    if (result.code === 0) return { got: "allowed", tries };
    // A TCP reset or an ICMP error: the REJECT of a policy (wget says why on stderr).
    if (/refused|unreachable/i.test(result.stderr)) return { got: "denied", tries };
  }
  return { got: "silent", tries };
}
