// The agent's Prometheus metrics in the text exposition format, written directly: six series and the
// process's own. prom-client (the controller's) costs the agent about 4.5 MB of RSS on every node
// (bench/agent.ts); the format is a few lines per series.
import type { ReconcileReport } from "./reconcile.ts";

export interface AgentMetrics {
  contentType: string;
  /** Where other parts of the agent (NetworkPolicy enforcement) define their series. */
  registry: MetricsRegistry;
  text(): string;
  recordSuccess(report: ReconcileReport): void;
  recordError(): void;
}

interface Series {
  name: string;
  help: string;
  type: "counter" | "gauge" | "summary";
  values: Map<string, number>;
}

export interface MetricHandle {
  /** Adds to the sample this suffix and labels name (`{kind="x"}`, a summary's "_sum"), "" for the plain one. */
  add(amount?: number, labels?: string): void;
  set(value: number): void;
}

export interface MetricsRegistry {
  /** A counter or gauge named `aks_ipvlan_<name>`. */
  define(name: string, help: string, type: "counter" | "gauge"): MetricHandle;
  /** A summary without quantiles (`_sum` and `_count`): enough for rate(sum)/rate(count). */
  summary(name: string, help: string): { observe(value: number): void };
}

export function agentMetrics(): AgentMetrics {
  const series: Series[] = [];
  const define = (name: string, help: string, type: Series["type"]): MetricHandle => {
    const entry: Series = { name: `aks_ipvlan_${name}`, help, type, values: new Map() };
    series.push(entry);
    return {
      add: (amount = 1, labels = "") => entry.values.set(labels, (entry.values.get(labels) ?? 0) + amount),
      set: (value: number) => entry.values.set("", value),
    };
  };
  const registry: MetricsRegistry = {
    define,
    summary(name, help) {
      const entry = define(name, help, "summary");
      entry.add(0, "_sum");
      entry.add(0, "_count");
      return {
        observe(value) {
          entry.add(value, "_sum");
          entry.add(1, "_count");
        },
      };
    },
  };
  const reconciles = define(
    "reconciles_total",
    "Full reconciles of this node, successful or not.",
    "counter",
  );
  const errors = define("reconcile_errors_total", "Reconciles that failed.", "counter");
  const repairs = define(
    "drift_repairs_total",
    "Things found wrong on the node and fixed, by kind.",
    "counter",
  );
  const capacity = define("block_capacity", "Pod addresses this node's blocks hold.", "gauge");
  const inUse = define("addresses_in_use", "Pod addresses reserved in host-local's data directory.", "gauge");
  const duration = define("last_reconcile_duration_seconds", "Duration of the last reconcile.", "gauge");
  reconciles.add(0);
  errors.add(0);
  return {
    contentType: "text/plain; version=0.0.4; charset=utf-8",
    registry,
    text: () => [...series, ...processSeries()].map(exposition).join(""),
    recordSuccess(report) {
      reconciles.add();
      for (const repair of report.repairs) repairs.add(1, `{kind="${escapeLabel(repair.kind)}"}`);
      capacity.set(report.addresses.capacity);
      inUse.set(report.addresses.inUse);
      duration.set(report.durationMs / 1000);
    },
    recordError() {
      reconciles.add();
      errors.add();
    },
  };
}

/** The standard process series (the names prom-client's default metrics use). */
function processSeries(): Series[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const one = (name: string, help: string, type: Series["type"], value: number): Series => ({
    name,
    help,
    type,
    values: new Map([["", value]]),
  });
  return [
    one("process_cpu_user_seconds_total", "User CPU time spent in seconds.", "counter", cpu.user / 1e6),
    one("process_cpu_system_seconds_total", "System CPU time spent in seconds.", "counter", cpu.system / 1e6),
    one("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", memory.rss),
    one(
      "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.",
      "gauge",
      START_TIME,
    ),
    one(
      "nodejs_heap_size_used_bytes",
      "Process heap size used from Node.js in bytes.",
      "gauge",
      memory.heapUsed,
    ),
  ];
}

const START_TIME = Math.round(Date.now() / 1000 - process.uptime());

function exposition(entry: Series): string {
  const samples = [...entry.values].map(([labels, value]) => `${entry.name}${labels} ${value}\n`).join("");
  return `# HELP ${entry.name} ${entry.help}\n# TYPE ${entry.name} ${entry.type}\n${samples}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
