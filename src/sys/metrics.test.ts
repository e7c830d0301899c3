import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "./metrics.ts";

const SAMPLE = /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$/;

describe("MetricsRegistry", () => {
  it("writes counters and gauges with their prefix, HELP and TYPE first, labels quoted and escaped", () => {
    const registry = new MetricsRegistry("x_");
    const calls = registry.define("calls_total", "Calls.", "counter");
    const level = registry.define("level", "Level.", "gauge");
    calls.add(2, { operation: "get", path: 'a"b\\c' });
    calls.add(1, { operation: "get", path: 'a"b\\c' });
    calls.add();
    level.set(3);
    level.set(1.5);
    const text = registry.text();
    expect(text).toContain(
      [
        "# HELP x_calls_total Calls.",
        "# TYPE x_calls_total counter",
        'x_calls_total{operation="get",path="a\\"b\\\\c"} 3',
        "x_calls_total 1",
        "# HELP x_level Level.",
        "# TYPE x_level gauge",
        "x_level 1.5",
      ].join("\n"),
    );
    expect(registry.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  it("writes a summary's sum and count, from zero", () => {
    const registry = new MetricsRegistry("x_");
    const latency = registry.summary("sync_seconds", "Sync.");
    expect(registry.text()).toContain("x_sync_seconds_sum 0\nx_sync_seconds_count 0\n");
    latency.observe(0.5);
    latency.observe(0.25);
    expect(registry.text()).toContain(
      "# TYPE x_sync_seconds summary\nx_sync_seconds_sum 0.75\nx_sync_seconds_count 2\n",
    );
  });

  it("writes a histogram's cumulative buckets up to +Inf, sum and count per label set", () => {
    const registry = new MetricsRegistry("x_");
    const duration = registry.histogram("call_seconds", "Calls.", [1, 0.1]);
    duration.observe(0.05, { operation: "a" });
    duration.observe(0.5, { operation: "a" });
    duration.observe(5, { operation: "b" });
    expect(registry.text()).toContain(
      [
        "# TYPE x_call_seconds histogram",
        'x_call_seconds_bucket{operation="a",le="0.1"} 1',
        'x_call_seconds_bucket{operation="a",le="1"} 2',
        'x_call_seconds_bucket{operation="a",le="+Inf"} 2',
        'x_call_seconds_sum{operation="a"} 0.55',
        'x_call_seconds_count{operation="a"} 2',
        'x_call_seconds_bucket{operation="b",le="0.1"} 0',
        'x_call_seconds_bucket{operation="b",le="1"} 0',
        'x_call_seconds_bucket{operation="b",le="+Inf"} 1',
        'x_call_seconds_sum{operation="b"} 5',
        'x_call_seconds_count{operation="b"} 1',
      ].join("\n"),
    );
  });

  it("ends with the process's own series, and every line is a comment or a sample", () => {
    const registry = new MetricsRegistry("x_");
    registry.define("empty_total", "Nothing yet.", "counter");
    const text = registry.text();
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+$/m);
    expect(text).not.toMatch(/^x_empty_total /m);
    for (const line of text.trimEnd().split("\n")) {
      if (!line.startsWith("# ")) expect(line).toMatch(SAMPLE);
    }
  });
});
