// Part of bench/agent.ts, run inside a private network namespace (`unshare -n`): the built agent
// (`agent --kube`, NetworkPolicy enforcement enabled) against the in-test API server over TLS, as its
// service account, on a node with 110 pods: the agent's own policy loop watches every pod, 200
// NetworkPolicies and the namespaces (no pod namespace exists here, so the enforcer finds none to
// program: the watch, world and sync bookkeeping are measured, not iptables-restore). Measures start →
// listening / first reconcile / ready / first policy sync, RSS and heap after a forced GC, an hour of
// watch traffic compressed (sampled 12 times), reconcile times and CPU while idle.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { AgentLog, type AgentLogLine } from "../../src/testbed/guest/agent-log.ts";
import { parse, stringify } from "yaml";
import { startApiServer, type ApiServer } from "../../test/apiserver/server.ts";
import { selfSignedCertificate } from "../../test/arm/tls.ts";
import { run } from "../../src/sys/exec.ts";
import { agentRbac } from "../../src/manifests/rbac.ts";
import { AGENT_NAME, NAMESPACE } from "../../src/manifests/names.ts";
import { BLOCKS_ANNOTATION } from "../../src/ipam/annotation.ts";
import { AGENT_NODE_OPTIONS } from "../../src/manifests/agent.ts";

const sampleSchema = z.strictObject({ label: z.string(), rssMb: z.number(), heapMb: z.number() });
type Sample = z.infer<typeof sampleSchema>;

/** What the footprint run writes to result.json (read back by bench/agent.ts, maybe from the guest). */
export const FootprintResultSchema = z.strictObject({
  listeningMs: z.number(),
  firstReconcileMs: z.number(),
  /** Absent when no reconcile succeeded (this host's kernel has no ipvlan for the host device). */
  readyMs: z.number().optional(),
  /** The first "policy synced" log line: all three kinds listed and the enforcer run once. */
  policySyncedMs: z.number(),
  firstProblems: z.array(z.string()),
  samples: z.array(sampleSchema),
  curve: z.array(sampleSchema),
  reconcileMs: z.array(z.number()),
  idle: z.strictObject({
    seconds: z.number(),
    agentCpuSeconds: z.number(),
    withChildrenCpuSeconds: z.number(),
    resyncSeconds: z.number(),
  }),
  informerCost: z.array(
    z.strictObject({ label: z.string(), rssMb: z.number(), heapMb: z.number(), ms: z.number() }),
  ),
});
export type FootprintResult = z.infer<typeof FootprintResultSchema>;

export const FootprintJobSchema = z.strictObject({
  /** The built CLI (tsc's output, as in the image). */
  main: z.string(),
  dist: z.string(),
  specFile: z.string(),
  dir: z.string(),
  /** The node's block, as the controller would have annotated it. */
  block: z.string(),
  nodeIp: z.string(),
  /** Without the hour of traffic and the informer comparison (the UML guest, 5-10× slower). */
  light: z.boolean().optional(),
});
export type FootprintJob = z.infer<typeof FootprintJobSchema>;

/** The agent's log lines (pino's JSON); a line that is not JSON is kept as its message. */
const LINE_WAIT_MS = 600_000;

/** What the informer-comparison script prints. */
const informerRunSchema = z.strictObject({
  count: z.number(),
  rss: z.number(),
  heapUsed: z.number(),
  ms: z.number(),
});

const NODE = "node1";
const PODS = 110;
const NAMESPACES = 20;
const POLICIES = 200;
const BATCHES = 12;
const IDLE_SECONDS = 60;
const RESYNC_SECONDS = 10;
/** The policy each simulated batch ends with: seen by the agent's process, the batch has arrived. */
const MARKER = { name: "marker", namespace: "team-0" };

// Loaded into the agent with --import: answers the bench over the IPC channel (forced GC + memory), and
// tells when one NetworkPolicy (the batch marker) has reached this process, through the agent's own
// client and informer modules on that one object (the agent's loop holds the 200 others).
const PROBE = `
const waiters = [];
const seen = new Map();
const settle = () => {
  for (const waiter of [...waiters]) {
    if (Number(seen.get(waiter.name) ?? 0) >= Number(waiter.resourceVersion)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      process.send({ type: "seen", name: waiter.name });
    }
  }
};
process.on("message", async (message) => {
  if (message.type === "sample") {
    globalThis.gc(); globalThis.gc();
    const memory = process.memoryUsage();
    process.send({ type: "sample", rss: memory.rss, heapUsed: memory.heapUsed });
  } else if (message.type === "watch") {
    const { restClient } = await import(message.dist + "/kube/rest-client.js");
    const { Informer } = await import(message.dist + "/kube/informer.js");
    const api = restClient({ server: message.server, ca: message.ca, token: async () => message.token });
    const stop = new AbortController();
    const informer = new Informer(api, "networking.k8s.io/v1", "NetworkPolicy", {
      namespace: message.namespace,
      fieldSelector: "metadata.name=" + message.name,
      onEvent: (_type, object) => {
        seen.set(object.metadata.name, object.metadata.resourceVersion);
        settle();
      },
      onSynced: () => process.send({ type: "watching" }),
    });
    void informer.run(stop.signal);
    process.on("SIGTERM", () => stop.abort());
  } else if (message.type === "await") {
    waiters.push(message);
    settle();
  }
});
`;

function pod(name: string, namespace: string, ip: string, phase: string) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      labels: { app: name.replace(/-\d+$/, ""), "pod-template-hash": "5d8f7c9b6" },
      annotations: { "kubectl.kubernetes.io/restartedAt": "2026-11-26T10:00:00Z" },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: `${name}-rs`, uid: "0", controller: true },
      ],
    },
    spec: {
      nodeName: NODE,
      serviceAccountName: "default",
      containers: [
        {
          name: "app",
          image: "mcr.microsoft.com/oss/nginx/nginx:1.25",
          ports: [{ containerPort: 8080, protocol: "TCP" }],
          env: Array.from({ length: 8 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}` })),
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          volumeMounts: [
            { name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" },
          ],
        },
      ],
      volumes: [
        { name: "kube-api-access", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } },
      ],
      tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" }],
    },
    status: {
      phase,
      ...(phase === "Running" ? { podIP: ip, podIPs: [{ ip }] } : {}),
      hostIP: "10.224.0.4",
      conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
        type,
        status: phase === "Running" ? "True" : "False",
        lastTransitionTime: "2026-11-26T10:00:00Z",
      })),
    },
  };
}

function policy(name: string, namespace: string, generation: number) {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace, labels: { generation: String(generation) } },
    spec: {
      podSelector: { matchLabels: { app: name } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [
            { podSelector: { matchLabels: { role: "frontend" } } },
            { namespaceSelector: { matchLabels: { team: "web" } } },
          ],
          ports: [{ protocol: "TCP", port: 8080 }],
        },
      ],
      egress: [
        {
          to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.0.1.0/24"] } }],
          ports: [{ port: 53, protocol: "UDP" }],
        },
      ],
    },
  };
}

function nodeObject(block: string, nodeIp: string, heartbeat: number) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: NODE,
      annotations: { [BLOCKS_ANNOTATION]: block },
      labels: { "kubernetes.io/os": "linux" },
    },
    status: {
      addresses: [
        { type: "InternalIP", address: nodeIp },
        { type: "Hostname", address: NODE },
      ],
      conditions: [
        { type: "Ready", status: "True", lastHeartbeatTime: new Date(heartbeat * 1000).toISOString() },
      ],
    },
  };
}

/** Agent CPU (user + system) and its waited-for children's, in seconds, from /proc/PID/stat. */
async function cpuSeconds(pid: number, ticks: number): Promise<{ own: number; children: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  // fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17.
  return { own: (fields[11]! + fields[12]!) / ticks, children: (fields[13]! + fields[14]!) / ticks };
}

class Agent {
  readonly log: AgentLog;
  private readonly replies: Array<(message: { type: string; [field: string]: unknown }) => boolean> = [];
  readonly child: ChildProcess;

  constructor(child: ChildProcess) {
    this.child = child;
    this.log = new AgentLog(child);
    child.on("message", (message: { type: string }) => {
      const index = this.replies.findIndex((reply) => reply(message));
      if (index >= 0) this.replies.splice(index, 1);
    });
  }

  get lines(): AgentLogLine[] {
    return this.log.lines;
  }

  /** The first log line (from `from` on) that matches; the bench's own timeout bounds the wait. */
  line(match: (line: AgentLogLine) => boolean, from = 0): Promise<AgentLogLine> {
    return this.log.waitFor(match, LINE_WAIT_MS, from);
  }

  ask<T>(message: object, reply: string): Promise<T> {
    return new Promise((resolve) => {
      this.replies.push((answer) => (answer.type === reply ? (resolve(answer as T), true) : false));
      this.child.send(message);
    });
  }

  async sample(label: string): Promise<Sample> {
    const memory = await this.ask<{ rss: number; heapUsed: number }>({ type: "sample" }, "sample");
    return { label, rssMb: mb(memory.rss), heapMb: mb(memory.heapUsed) };
  }
}

async function lastReconcile(): Promise<{ at?: string; durationMs: number }> {
  const status = (await (await fetch("http://127.0.0.1:9464/status")).json()) as {
    lastReconcile?: { at: string; durationMs: number };
  };
  return status.lastReconcile ?? { durationMs: 0 };
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

export async function footprint(job: FootprintJob): Promise<FootprintResult> {
  await run("ip", ["link", "set", "lo", "up"]);
  // The node's eth0: a dummy device, or a veth end where the kernel has no dummy driver (this host).
  await run("ip", ["link", "add", "eth0", "type", "dummy"]).catch(() =>
    run("ip", ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"]),
  );
  await run("ip", ["-batch", "-"], { input: `addr add ${job.nodeIp}/16 dev eth0\nlink set eth0 up\n` });
  const certificate = await selfSignedCertificate();
  const server = await startApiServer({ tls: certificate, bookmarkIntervalMs: 1000 });
  try {
    return await measure(job, server, certificate.cert);
  } finally {
    await server.close();
  }
}

async function measure(job: FootprintJob, server: ApiServer, ca: string): Promise<FootprintResult> {
  let heartbeat = 0;
  server.put(nodeObject(job.block, job.nodeIp, heartbeat));
  server.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  for (const object of agentRbac({ policy: true })) server.put(object as never);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `team-${i}`);
  for (const name of namespaces)
    server.put({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { team: name } } });
  for (let i = 0; i < POLICIES; i++) server.put(policy(`policy-${i}`, namespaces[i % NAMESPACES]!, 0));
  let podSerial = 0;
  const podIp = (serial: number) => `10.224.${16 + Math.floor(serial / 250)}.${(serial % 250) + 1}`;
  const live: Array<{ name: string; namespace: string }> = [];
  for (; podSerial < PODS; podSerial++) {
    const namespace = namespaces[podSerial % NAMESPACES]!;
    server.put(pod(`app-${podSerial}`, namespace, podIp(podSerial), "Running"));
    live.push({ name: `app-${podSerial}`, namespace });
  }
  // The job's spec with enforcement on, as a cluster using NetworkPolicy runs the agent.
  const spec = parse(await readFile(job.specFile, "utf8")) as { agent?: Record<string, unknown> };
  const specFile = join(job.dir, "spec-policy.yaml");
  await writeFile(specFile, stringify({ ...spec, agent: { ...spec.agent, policy: { enabled: true } } }));
  const kubeconfig = join(job.dir, "kubeconfig");
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "c",
          cluster: { server: server.url, "certificate-authority-data": Buffer.from(ca).toString("base64") },
        },
      ],
      users: [{ name: "u", user: { token: `sa:${NAMESPACE}:${AGENT_NAME}` } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      "current-context": "c",
    }),
  );

  // prettier-ignore
  const child = spawn(process.execPath, [
    "--expose-gc", "--import", `data:text/javascript,${encodeURIComponent(PROBE)}`, job.main, "agent", "--kube",
    "--config", specFile, "--node", NODE, "--cni-conf-dir", join(job.dir, "net.d"), "--cni-bin-dir", "/usr/lib/cni",
    "--ipam-data-dir", join(job.dir, "ipam"), "--listen", "127.0.0.1:9464",
  ], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
    env: {
      ...process.env,
      NODE_OPTIONS: AGENT_NODE_OPTIONS,
      KUBECONFIG: kubeconfig,
      AKS_IPVLAN_IPTABLES: "legacy",
      KUBERNETES_SERVICE_HOST: "",
    },
  });
  const agent = new Agent(child);
  try {
    const progress = (what: string) => process.stderr.write(`footprint: ${what}\n`);
    progress("agent started");
    const listening = await agent.line((line) => line.msg.startsWith("serving"));
    const isReconcile = (line: { msg: string }) =>
      line.msg === "reconciled" || line.msg === "reconcile failed";
    progress("listening");
    const first = await agent.line(isReconcile);
    progress("reconciled");
    const ready = agent.lines.find((line) => line.msg === "ready");
    const policySynced = await agent.line((line) => line.msg === "policy synced");
    progress("policy synced");
    const samples = [
      await agent.sample(
        `after the first reconcile and policy sync (${PODS} pods on the node, ${POLICIES} policies, ${NAMESPACES + 3} namespaces watched)`,
      ),
    ];
    await agent.ask(
      { type: "watch", dist: `file://${job.dist}`, server: server.url, ca, token: "test-token", ...MARKER },
      "watching",
    );

    const curve: Sample[] = [];
    if (!job.light) {
      // One simulated hour in 12 batches of 5 minutes, each as fast as the agent takes it: pod churn
      // on the node (10 replaced pods: delete, create Pending, Running), a Node heartbeat every 10 s
      // (each wakes a reconcile), 10 policy edits and 2 namespace relabels; bookmarks flow meanwhile.
      let marker = 0;
      for (let batch = 1; batch <= BATCHES; batch++) {
        for (let i = 0; i < 10; i++) {
          const gone = live.shift()!;
          server.remove("v1", "Pod", gone.name, gone.namespace);
          const namespace = namespaces[podSerial % NAMESPACES]!;
          const name = `app-${podSerial}`;
          server.put(pod(name, namespace, podIp(podSerial), "Pending"));
          server.put(pod(name, namespace, podIp(podSerial), "Running"));
          live.push({ name, namespace });
          podSerial++;
        }
        for (let i = 0; i < 30; i++) server.put(nodeObject(job.block, job.nodeIp, (heartbeat += 10)));
        for (let i = 0; i < 10; i++) {
          const index = (batch * 10 + i) % POLICIES;
          server.put(policy(`policy-${index}`, namespaces[index % NAMESPACES]!, batch));
        }
        for (let i = 0; i < 2; i++) {
          const name = namespaces[(batch * 2 + i) % NAMESPACES]!;
          server.put({
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name, labels: { team: name, batch: String(batch) } },
          });
        }
        const last = server.put(policy(MARKER.name, MARKER.namespace, ++marker));
        const version = String((last.metadata as { resourceVersion: string }).resourceVersion);
        await agent.ask({ type: "await", name: MARKER.name, resourceVersion: version }, "seen");
        curve.push(await agent.sample(`${batch * 5} min`));
        progress(`${batch * 5} simulated minutes`);
      }
    }

    // Steady reconciles (only where one succeeds): a Node update wakes each; /status has its duration.
    const reconcileMs: number[] = [];
    for (let i = 0; ready && i < 10; i++) {
      const before = (await lastReconcile()).at;
      server.put(nodeObject(job.block, job.nodeIp, (heartbeat += 10)));
      let next = await lastReconcile();
      while (next.at === before) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        next = await lastReconcile();
      }
      reconcileMs.push(next.durationMs);
    }

    // Idle: the agent at the spec's resync interval, bookmarks every second on each of its 4 watches.
    const ticks = Number((await run("getconf", ["CLK_TCK"])).stdout.trim());
    const before = await cpuSeconds(child.pid!, ticks);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const after = await cpuSeconds(child.pid!, ticks);
    progress("idle measured");
    return {
      listeningMs: Math.round(listening.at),
      firstReconcileMs: Math.round(first.at),
      ...(ready ? { readyMs: Math.round(ready.at) } : {}),
      policySyncedMs: Math.round(policySynced.at),
      firstProblems: firstProblems(first),
      samples,
      curve,
      reconcileMs,
      idle: {
        seconds: IDLE_SECONDS,
        agentCpuSeconds: after.own - before.own,
        withChildrenCpuSeconds: after.own + after.children - before.own - before.children,
        resyncSeconds: RESYNC_SECONDS,
      },
      informerCost: job.light ? [] : await informerCost(job, server, ca),
    };
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // The IPC channel would keep the stopped agent alive.
    if (child.connected) child.disconnect();
    child.kill("SIGTERM");
    await exited;
  }
}

// client-node's informer vs ours, each alone in a fresh process over the same TLS connection, on the
// node's pods: the process's RSS and heap after a forced GC once the informer has synced.
const INFORMER_PROGRAMS: Record<string, string> = {
  "client-node makeInformer (pods on the node)": `
    const k8s = await import(process.env.CLIENT_NODE);
    const config = new k8s.KubeConfig();
    config.loadFromOptions({ clusters: [{ name: "c", server: process.env.SERVER, caData: Buffer.from(process.env.CA).toString("base64") }],
      users: [{ name: "u", token: "test-token" }], contexts: [{ name: "c", cluster: "c", user: "u" }], currentContext: "c" });
    const core = config.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(config, "/api/v1/pods", () => core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node1" }), undefined, "spec.nodeName=node1");
    await new Promise((resolve) => {
      informer.on("add", () => informer.list().length === Number(process.env.PODS) && resolve());
      informer.start();
    });
    report(informer.list().length);`,
  "ours: rest-client + Informer (pods on the node)": `
    const { restClient } = await import(process.env.DIST + "/kube/rest-client.js");
    const { Informer } = await import(process.env.DIST + "/kube/informer.js");
    const api = restClient({ server: process.env.SERVER, ca: process.env.CA, token: async () => "test-token" });
    const informer = await new Promise((resolve) => {
      const started = new Informer(api, "v1", "Pod", { fieldSelector: "spec.nodeName=node1", onEvent() {}, onSynced: () => resolve(started) });
      void started.run(new AbortController().signal);
    });
    report(informer.objects.size);`,
};

async function informerCost(
  job: FootprintJob,
  server: ApiServer,
  ca: string,
): Promise<FootprintResult["informerCost"]> {
  const rows: FootprintResult["informerCost"] = [];
  for (const [label, program] of Object.entries(INFORMER_PROGRAMS)) {
    const script = `const started = performance.now();
      const report = (count) => { globalThis.gc(); globalThis.gc(); const m = process.memoryUsage();
        console.log(JSON.stringify({ count, rss: m.rss, heapUsed: m.heapUsed, ms: performance.now() - started })); process.exit(0); };
      ${program}`;
    process.stderr.write(`footprint: ${label}\n`);
    const result = await run(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
      timeoutMs: 120_000,
      env: {
        ...process.env,
        SERVER: server.url,
        CA: ca,
        PODS: String(PODS),
        DIST: `file://${job.dist}`,
        CLIENT_NODE: `file://${resolve(import.meta.dirname, "../../node_modules/@kubernetes/client-node/dist/index.js")}`,
      },
    });
    const parsed = informerRunSchema.parse(JSON.parse(result.stdout));
    rows.push({
      label: `${label}: ${parsed.count} pods`,
      rssMb: mb(parsed.rss),
      heapMb: mb(parsed.heapUsed),
      ms: Math.round(parsed.ms),
    });
  }
  return rows;
}

/** What kept the first reconcile from making the node ready, one line each (not pino's serialized stack). */
function firstProblems(line: Record<string, unknown>): string[] {
  const problems = z.array(z.string()).safeParse(line.problems);
  if (problems.success) return problems.data;
  const error = z.looseObject({ message: z.string() }).safeParse(line.err);
  return [error.success ? error.data.message.split("\n")[0]! : JSON.stringify(line.err)];
}
