// Prometheus metrics in the text exposition format (version 0.0.4), written directly: counters,
// gauges, summaries without quantiles and histograms, plus the process's own series. The agent and the
// controller both use it; prom-client would cost the agent about 4.5 MB of RSS on every node
// (bench/agent.ts), and the format is a few lines per series.

export type Labels = Readonly<Record<string, string>>;

export interface MetricHandle {
  /** Adds to the sample of these labels (the unlabelled one without). */
  add(amount?: number, labels?: Labels): void;
  set(value: number, labels?: Labels): void;
}

interface Series {
  name: string;
  help: string;
  type: "counter" | "gauge" | "summary" | "histogram";
  /** Keyed by the sample's name suffix and label text: "", `{kind="x"}`, "_sum", `_bucket{le="1"}`. */
  values: Map<string, number>;
}

export class MetricsRegistry {
  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";
  private readonly prefix: string;
  private readonly series: Series[] = [];

  /** Every name defined here starts with `prefix` (e.g. "aks_ipvlan_"). */
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** A counter or gauge named prefix + `name`. */
  define(name: string, help: string, type: "counter" | "gauge"): MetricHandle {
    const values = this.add(name, help, type);
    return {
      add: (amount = 1, labels = {}) => increment(values, labelText(labels), amount),
      set: (value, labels = {}) => void values.set(labelText(labels), value),
    };
  }

  /** A summary without quantiles (`_sum` and `_count`): enough for rate(sum)/rate(count). */
  summary(name: string, help: string): { observe(value: number): void } {
    const values = this.add(name, help, "summary");
    values.set("_sum", 0).set("_count", 0);
    return {
      observe(value) {
        increment(values, "_sum", value);
        increment(values, "_count", 1);
      },
    };
  }

  /** A histogram with these upper bounds (and +Inf), per label set. */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
  ): { observe(value: number, labels?: Labels): void } {
    const values = this.add(name, help, "histogram");
    const bounds = [...[...buckets].sort((a, b) => a - b).map(String), "+Inf"];
    return {
      observe(value, labels = {}) {
        bounds.forEach((bound, index) => {
          const counted = index === bounds.length - 1 || value <= Number(bound);
          increment(values, `_bucket${labelText({ ...labels, le: bound })}`, counted ? 1 : 0);
        });
        increment(values, `_sum${labelText(labels)}`, value);
        increment(values, `_count${labelText(labels)}`, 1);
      },
    };
  }

  /** Every series defined here, then the process's own. */
  text(): string {
    return [...this.series, ...processSeries()].map(exposition).join("");
  }

  private add(name: string, help: string, type: Series["type"]): Map<string, number> {
    const entry: Series = { name: `${this.prefix}${name}`, help, type, values: new Map() };
    this.series.push(entry);
    return entry.values;
  }
}

function increment(values: Map<string, number>, key: string, amount: number): void {
  values.set(key, (values.get(key) ?? 0) + amount);
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
  const samples = [...entry.values].map(([key, value]) => `${entry.name}${key} ${value}\n`).join("");
  return `# HELP ${entry.name} ${entry.help}\n# TYPE ${entry.name} ${entry.type}\n${samples}`;
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return pairs.length > 0 ? `{${pairs.join(",")}}` : "";
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
