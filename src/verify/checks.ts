// The verification suite's checks: the seed's Verification section and what a cluster really needs,
// each a probe through the ClusterDriver that passes, fails or does not apply, with its evidence.
import type {
  ClusterDriver,
  Environment,
  ExecResult,
  ExternalClient,
  NodeRef,
  PodRef,
  ServiceRef,
} from "./driver.ts";

type SupportedExternalClient = Extract<ExternalClient, { supported: true }>;

export type CheckStatus = "pass" | "fail" | "not-applicable";

export interface Evidence {
  /** Where the command ran: "pod client-a", "node node1", "external". */
  where: string;
  argv: string[];
  code: number;
  output: string;
  durationMs: number;
}

export interface CheckResult {
  id: CheckId;
  title: string;
  /** The nodes the probe crossed, e.g. "node1→node2". */
  nodes: string;
  status: CheckStatus;
  reason: string;
  evidence: Evidence[];
  durationMs: number;
}

/** What every check works with: pods and services the suite created before the checks run. */
export interface Fixture {
  driver: ClusterDriver;
  env: Environment;
  a: NodeRef;
  /** Another node; undefined in a one-node cluster. */
  b?: NodeRef;
  clientA: PodRef;
  serverA: PodRef;
  serverB?: PodRef;
  serviceA: ServiceRef;
  serviceB?: ServiceRef;
  /** serverA publishes its HTTP port on node A at this hostPort. */
  hostPort: number;
  /** The MTU the cluster spec gives pods, when known (vxlan mode, or an explicit `mtu`). */
  podMtu?: number;
}

export const CHECK_IDS = [
  "pod-routes",
  "egress",
  "dns",
  "pod-to-pod-same-node",
  "pod-to-pod-cross-node",
  "pod-mtu-cross-node",
  "node-to-pod",
  "pod-to-own-node",
  "clusterip-same-node",
  "clusterip-cross-node",
  "nodeport-same-node",
  "nodeport-cross-node",
  "hostport",
  "wireserver-closed",
  "imds-closed",
] as const;

export type CheckId = (typeof CHECK_IDS)[number];

type Verdict = Pick<CheckResult, "status" | "reason">;

interface Check {
  id: CheckId;
  title: string;
  nodes(fixture: Fixture): string;
  run(fixture: Fixture, record: Recorder): Promise<Verdict>;
}

/**
 * A probe: the command for one attempt with a timeout in seconds, and whether a result is silence (no
 * answer within the timeout) rather than an answer. Silence is the only result a slow machine can cause.
 */
interface Probe {
  argv(timeoutS: number): string[];
  silent(result: ExecResult): boolean;
}

/**
 * Seconds each attempt of a probe that must be answered may take. An answer (also a refusal) is final;
 * silence is tried again, longer: a starved CPU (the testbed's one guest CPU on a busy host, a node under
 * load) can delay an answer by seconds, but no load explains silence for all of them, while a dropped
 * path stays silent. A probe that must not be answered, or any probe of a check that is expected to
 * fail, gets the first attempt only.
 */
const PATIENT_TIMEOUTS_S = [3, 10, 30] as const;
/** How long a command may take beyond its probe's own timeout (the exec round trip). */
const EXEC_MARGIN_MS = 12_000;

/** The timeout each probe result had, for the failure's reason. */
const probeTimeouts = new WeakMap<ExecResult, number>();

/** Runs probes for a check and keeps each attempt as evidence. */
class Recorder {
  readonly evidence: Evidence[] = [];
  readonly #patient: boolean;

  constructor(patient: boolean) {
    this.#patient = patient;
  }

  /** `answer`: whether an answer is the expected outcome (then silence earns another, longer attempt). */
  pod(fixture: Fixture, pod: PodRef, probe: Probe, answer = true): Promise<ExecResult> {
    return this.#attempts(`pod ${pod.name}`, probe, answer, (argv, timeoutMs) =>
      fixture.driver.execInPod(pod, argv, { timeoutMs }),
    );
  }

  node(fixture: Fixture, node: NodeRef, probe: Probe, answer = true): Promise<ExecResult> {
    return this.#attempts(`node ${node.name}`, probe, answer, (argv, timeoutMs) =>
      fixture.driver.execOnNode(node, argv, { timeoutMs }),
    );
  }

  external(client: SupportedExternalClient, probe: Probe): Promise<ExecResult> {
    return this.#attempts("external", probe, true, (argv, timeoutMs) => client.exec(argv, { timeoutMs }));
  }

  async #attempts(
    where: string,
    probe: Probe,
    answer: boolean,
    exec: (argv: string[], timeoutMs: number) => Promise<ExecResult>,
  ): Promise<ExecResult> {
    const timeouts = this.#patient && answer ? PATIENT_TIMEOUTS_S : PATIENT_TIMEOUTS_S.slice(0, 1);
    let result!: ExecResult;
    for (const timeoutS of timeouts) {
      result = this.#keep(where, await exec(probe.argv(timeoutS), timeoutS * 1000 + EXEC_MARGIN_MS));
      probeTimeouts.set(result, timeoutS);
      if (!probe.silent(result)) break;
    }
    return result;
  }

  #keep(where: string, result: ExecResult): ExecResult {
    this.evidence.push({
      where,
      argv: result.argv,
      code: result.code,
      output: `${result.stdout}${result.stderr}`.trim().slice(0, 2000),
      durationMs: result.durationMs,
    });
    return result;
  }
}

/** A command that is not a probe: whatever it returns is its answer. */
function command(argv: string[]): Probe {
  return { argv: () => argv, silent: () => false };
}

/** timeout(1) ends a probe whose packets went nowhere with SIGTERM (143; 128 in busybox's applet). */
const timedOut = (result: ExecResult) => result.code === 128 || result.code === 143;

/** A busybox applet bounded by timeout(1): busybox's own -T segfaults in Debian's busybox 1.35. */
const bounded = (timeoutS: number, applet: string[]) => [
  "busybox",
  "timeout",
  String(timeoutS),
  "busybox",
  ...applet,
];

function wget(url: string, headers: string[] = []): Probe {
  return {
    argv: (timeoutS) =>
      bounded(timeoutS, ["wget", "-q", "-O", "-", ...headers.flatMap((header) => ["--header", header]), url]),
    silent: timedOut,
  };
}

/**
 * One echo request (of `payload` bytes, with the IPv4 and ICMP headers 28 more); ping exits 1 when no
 * reply came (an error such as no route exits 2).
 */
function ping(ip: string, payload?: number): Probe {
  const size = payload === undefined ? [] : ["-s", String(payload)];
  return {
    argv: (timeoutS) => ["busybox", "ping", "-c", "1", "-W", String(timeoutS), ...size, ip],
    silent: (result) => result.code === 1 && !/unreachable/i.test(result.stdout + result.stderr),
  };
}

/** nslookup retries on its own; "no servers could be reached" is silence, NXDOMAIN an answer. */
function nslookup(name: string, server: string): Probe {
  return {
    argv: (timeoutS) => bounded(timeoutS, ["nslookup", "-type=a", name, server]),
    silent: (result) =>
      timedOut(result) || /timed out|no servers could be reached/i.test(result.stdout + result.stderr),
  };
}

function httpUrl(fixture: Fixture, host: string, port = fixture.env.httpPort): string {
  return `http://${host}:${port}${fixture.env.clientIpPath}`;
}

/** The last IPv4 address in an HTTP body (servers may write "::ffff:a.b.c.d" or "a.b.c.d:port"). */
export function seenAddress(body: string): string | undefined {
  return body.match(/\d{1,3}(?:\.\d{1,3}){3}/g)?.at(-1);
}

/** A connection that got any HTTP answer reached the server; only refused or timed-out ones did not. */
export function reachedHttp(result: ExecResult): boolean {
  return result.code === 0 || /server returned error/.test(result.stderr);
}

function failed(result: ExecResult, what: string): Verdict {
  const output = `${result.stderr}${result.stdout}`.trim().split("\n")[0] ?? "";
  const code = timedOut(result)
    ? `no answer within ${probeTimeouts.get(result) ?? "?"} s`
    : `exit ${result.code}`;
  return { status: "fail", reason: `${what}: ${code}${output ? `, ${output}` : ""}` };
}

function expectSource(result: ExecResult, expected: string | undefined, what: string): Verdict {
  if (result.code !== 0) return failed(result, what);
  const seen = seenAddress(result.stdout);
  if (expected !== undefined && seen !== expected) {
    return {
      status: "fail",
      reason: `${what}: the server saw ${seen ?? "no address"}, expected ${expected}`,
    };
  }
  return { status: "pass", reason: `${what}: the server saw ${seen ?? "an answer"}` };
}

function answered(result: ExecResult, what: string): Verdict {
  return result.code === 0 ? { status: "pass", reason: `${what}: answered` } : failed(result, what);
}

function twoNodes(fixture: Fixture): { b: NodeRef; serverB: PodRef; serviceB: ServiceRef } | undefined {
  const { b, serverB, serviceB } = fixture;
  return b && serverB && serviceB ? { b, serverB, serviceB } : undefined;
}

const ONE_NODE: Verdict = { status: "not-applicable", reason: "needs a second node" };

/** Probes an address from a pod (must fail) and from its node (must succeed, or "closed" proves nothing). */
async function closedToPods(
  fixture: Fixture,
  record: Recorder,
  urls: string[],
  headers: string[],
): Promise<Verdict> {
  const open: string[] = [];
  const unreachableFromNode: string[] = [];
  for (const url of urls) {
    if (reachedHttp(await record.pod(fixture, fixture.clientA, wget(url, headers), false))) open.push(url);
    if (!reachedHttp(await record.node(fixture, fixture.a, wget(url, headers))))
      unreachableFromNode.push(url);
  }
  if (unreachableFromNode.length > 0) {
    return {
      status: "fail",
      reason: `control failed: node ${fixture.a.name} cannot reach ${unreachableFromNode.join(", ")} either, so a closed pod path proves nothing`,
    };
  }
  if (open.length > 0) return { status: "fail", reason: `a pod reached ${open.join(", ")}` };
  return { status: "pass", reason: `pods cannot reach ${urls.join(", ")}; node ${fixture.a.name} can` };
}

/** From the host outside the cluster to node A's IP at the service's node port. */
async function nodePortFromInternet(
  fixture: Fixture,
  record: Recorder,
  service: ServiceRef,
): Promise<Verdict> {
  const client = fixture.driver.externalClient();
  if (!client.supported) return { status: "not-applicable", reason: client.reason };
  const result = await record.external(client, wget(httpUrl(fixture, fixture.a.ip, service.nodePort)));
  return answered(result, "NodePort");
}

export const CHECKS: readonly Check[] = [
  {
    id: "pod-routes",
    title: "pod default route on eth0",
    nodes: (f) => f.a.name,
    async run(f, record) {
      const result = await record.pod(f, f.clientA, command(["busybox", "ip", "route", "show"]));
      if (result.code !== 0) return failed(result, "ip route");
      const route = result.stdout.split("\n").find((line) => /^default (via \S+ )?dev eth0\b/.test(line));
      return route
        ? { status: "pass", reason: route.trim() }
        : {
            status: "fail",
            reason: `no default route on eth0: ${result.stdout.trim().replace(/\n/g, "; ")}`,
          };
    },
  },
  {
    id: "egress",
    title: "pod → internet (server sees the node IP)",
    nodes: (f) => `${f.a.name}→internet`,
    async run(f, record) {
      const result = await record.pod(f, f.clientA, wget(f.env.echoUrl));
      return expectSource(result, f.env.expectedEgressSource(f.a), "egress");
    },
  },
  {
    id: "dns",
    title: "DNS via kube-dns → Azure DNS",
    nodes: (f) => f.a.name,
    async run(f, record) {
      const result = await record.pod(f, f.clientA, nslookup(f.env.dnsName, f.env.clusterDnsIp));
      if (result.code !== 0) return failed(result, `nslookup ${f.env.dnsName}`);
      const answer = result.stdout.split(/^Name:/m)[1];
      const ok =
        answer !== undefined && (f.env.dnsAddress === undefined || answer.includes(f.env.dnsAddress));
      return ok
        ? {
            status: "pass",
            reason: `${f.env.dnsName} resolved${f.env.dnsAddress ? ` to ${f.env.dnsAddress}` : ""}`,
          }
        : {
            status: "fail",
            reason: `no answer for ${f.env.dnsName}: ${result.stdout.trim().replace(/\n/g, "; ")}`,
          };
    },
  },
  {
    id: "pod-to-pod-same-node",
    title: "pod → pod, same node (source kept)",
    nodes: (f) => f.a.name,
    async run(f, record) {
      const result = await record.pod(f, f.clientA, wget(httpUrl(f, f.serverA.ip)));
      return expectSource(result, f.clientA.ip, "pod to pod");
    },
  },
  {
    id: "pod-to-pod-cross-node",
    title: "pod → pod, other node (source kept)",
    nodes: (f) => `${f.a.name}→${f.b?.name ?? "?"}`,
    async run(f, record) {
      const two = twoNodes(f);
      if (!two) return ONE_NODE;
      const result = await record.pod(f, f.clientA, wget(httpUrl(f, two.serverB.ip)));
      return expectSource(result, f.clientA.ip, "pod to pod");
    },
  },
  {
    id: "pod-mtu-cross-node",
    title: "pod → pod, other node, full MTU (+1 fragmented)",
    nodes: (f) => `${f.a.name}→${f.b?.name ?? "?"}`,
    async run(f, record) {
      const two = twoNodes(f);
      if (!two) return ONE_NODE;
      const link = await record.pod(f, f.clientA, command(["busybox", "ip", "link", "show", "eth0"]));
      const mtu = Number(link.stdout.match(/\bmtu (\d+)/)?.[1]);
      if (link.code !== 0 || !mtu) return failed(link, "ip link show eth0");
      if (f.podMtu !== undefined && mtu !== f.podMtu)
        return { status: "fail", reason: `the pod's eth0 has MTU ${mtu}, the spec gives pods ${f.podMtu}` };
      // A packet of exactly the MTU must cross (in vxlan mode: encapsulated to the node's full MTU) and
      // its reply come back as large; one byte more is fragmented by the pod and must cross as well.
      const ICMP_HEADERS = 28;
      for (const payload of [mtu - ICMP_HEADERS, mtu - ICMP_HEADERS + 1]) {
        const result = await record.pod(f, f.clientA, ping(two.serverB.ip, payload));
        if (result.code !== 0) return failed(result, `ping -s ${payload} ${two.serverB.ip}`);
      }
      return {
        status: "pass",
        reason: `${mtu}-byte packets and a fragmented ${mtu + 1} crossed and came back (MTU ${mtu}${f.podMtu === undefined ? "" : ", as the spec says"})`,
      };
    },
  },
  {
    id: "node-to-pod",
    title: "node → own pod (kubelet probes)",
    nodes: (f) => f.a.name,
    async run(f, record) {
      return answered(await record.node(f, f.a, wget(httpUrl(f, f.serverA.ip))), "node to pod");
    },
  },
  {
    id: "pod-to-own-node",
    title: "pod → own node IP",
    nodes: (f) => f.a.name,
    async run(f, record) {
      const result = await record.pod(f, f.clientA, ping(f.a.ip));
      return result.code === 0
        ? { status: "pass", reason: `${f.a.ip} answered` }
        : failed(result, `ping ${f.a.ip}`);
    },
  },
  {
    id: "clusterip-same-node",
    title: "pod → ClusterIP, backend on the same node",
    nodes: (f) => f.a.name,
    async run(f, record) {
      const url = httpUrl(f, f.serviceA.clusterIP, f.serviceA.port);
      return answered(await record.pod(f, f.clientA, wget(url)), "ClusterIP");
    },
  },
  {
    id: "clusterip-cross-node",
    title: "pod → ClusterIP, backend on another node",
    nodes: (f) => `${f.a.name}→${f.b?.name ?? "?"}`,
    async run(f, record) {
      const two = twoNodes(f);
      if (!two) return ONE_NODE;
      const url = httpUrl(f, two.serviceB.clusterIP, two.serviceB.port);
      return answered(await record.pod(f, f.clientA, wget(url)), "ClusterIP");
    },
  },
  {
    id: "nodeport-same-node",
    title: "internet → NodePort → pod on that node",
    nodes: (f) => `internet→${f.a.name}`,
    async run(f, record) {
      return nodePortFromInternet(f, record, f.serviceA);
    },
  },
  {
    id: "nodeport-cross-node",
    title: "internet → NodePort → pod on another node",
    nodes: (f) => `internet→${f.a.name}→${f.b?.name ?? "?"}`,
    async run(f, record) {
      const two = twoNodes(f);
      if (!two) return ONE_NODE;
      return nodePortFromInternet(f, record, two.serviceB);
    },
  },
  {
    id: "hostport",
    title: "hostPort on the node IP",
    nodes: (f) => `${f.b?.name ?? "?"}→${f.a.name}`,
    async run(f, record) {
      const two = twoNodes(f);
      if (!two) return ONE_NODE;
      return answered(await record.node(f, two.b, wget(httpUrl(f, f.a.ip, f.hostPort))), "hostPort");
    },
  },
  {
    id: "wireserver-closed",
    title: "wireserver (168.63.129.16:80,32526) closed to pods",
    nodes: (f) => f.a.name,
    run: (f, record) =>
      closedToPods(
        f,
        record,
        ["http://168.63.129.16:80/?comp=versions", "http://168.63.129.16:32526/vmSettings"],
        [],
      ),
  },
  {
    id: "imds-closed",
    title: "IMDS (169.254.169.254) closed to pods",
    nodes: (f) => f.a.name,
    run: (f, record) =>
      closedToPods(
        f,
        record,
        ["http://169.254.169.254/metadata/instance?api-version=2021-02-01"],
        ["Metadata: true"],
      ),
  },
];

/**
 * Runs one check. `expectFail`: the caller expects this check to fail (a negative control), so silence
 * is taken as it comes, not tried again.
 */
export async function runCheck(check: Check, fixture: Fixture, expectFail = false): Promise<CheckResult> {
  const record = new Recorder(!expectFail);
  const started = performance.now();
  let verdict: Verdict;
  try {
    verdict = await check.run(fixture, record);
  } catch (error) {
    verdict = { status: "fail", reason: `the check could not run: ${(error as Error).message}` };
  }
  return {
    id: check.id,
    title: check.title,
    nodes: check.nodes(fixture),
    ...verdict,
    evidence: record.evidence,
    durationMs: Math.round(performance.now() - started),
  };
}
