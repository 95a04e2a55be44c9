import http from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Registry, collectDefaultMetrics, type MetricValue } from "prom-client";
import { TRANSPORT_EVENT_NAMES } from "./transport/events.js";

/**
 * The operation label values, as the Python services name them (plus the RPCs Python does not count); "do" is
 * Flyte 1's ExecuteTaskSync, as flytekit counts it.
 */
export type OperationLabel = "create" | "get" | "delete" | "do" | "metrics" | "logs" | "list" | "get_connector";

/** Prometheus metrics of one service instance, in their own registry (several instances may share a process). */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly success: Counter<"task_type" | "operation">;
  readonly failure: Counter<"task_type" | "operation" | "error_code">;
  readonly latency: CountSumSummary<"task_type" | "operation">;
  readonly inputBytes: CountSumSummary<"task_type">;
  /** Connector calls still running when their deadline passed or their caller cancelled (see ConnectorLimits). */
  readonly overdue: Counter<"task_type" | "operation">;
  /** Transport events (refused streams, connection errors, GOAWAYs, …) by name: what request metrics never see. */
  readonly transportEvents: Counter<"event">;

  constructor() {
    const registers = [this.registry];
    this.success = new Counter({
      name: "flyte_connector_requests_success_total",
      help: "Total number of successful requests",
      labelNames: ["task_type", "operation"],
      registers,
    });
    this.failure = new Counter({
      name: "flyte_connector_requests_failure_total",
      help: "Total number of failed requests",
      labelNames: ["task_type", "operation", "error_code"],
      registers,
    });
    this.overdue = new Counter({
      name: "flyte_connector_overdue_calls_total",
      help: "Connector calls still running when their deadline passed or their caller cancelled; each keeps its concurrency slot until it settles",
      labelNames: ["task_type", "operation"],
      registers,
    });
    this.transportEvents = new Counter({
      name: "flyte_connector_transport_events_total",
      help: "Events below the calls on the gRPC transport: refused streams, session and socket errors, GOAWAYs sent and received, connections closed for age or idleness, handshake timeouts, request budget refusals, calls reset at shutdown",
      labelNames: ["event"],
      registers,
    });
    // Every event name from the start (0), so a rate() over a name that has not happened yet is 0, not absent.
    for (const event of TRANSPORT_EVENT_NAMES) this.transportEvents.inc({ event }, 0);
    this.latency = new CountSumSummary("flyte_connector_request_latency_seconds", "Time spent processing connector request", ["task_type", "operation"]);
    this.inputBytes = new CountSumSummary("flyte_connector_input_literal_bytes", "Size of input literal", ["task_type"]);
    this.registry.registerMetric(this.latency as never);
    this.registry.registerMetric(this.inputBytes as never);
    collectDefaultMetrics({ register: this.registry });
  }
}

/**
 * A Prometheus summary exported as `<name>_sum` and `<name>_count` per label set — exactly what the Python
 * service's `prometheus_client.Summary` exports (it computes no quantiles). prom-client's Summary feeds a
 * t-digest on every observation even with no percentiles configured, which cost ~5 % of the service's CPU.
 */
export class CountSumSummary<L extends string> {
  readonly type = "summary";
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = "sum";
  readonly #series = new Map<string, { labels: Record<L, string>; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly L[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  observe(labels: Record<L, string>, value: number): void {
    let key = "";
    for (const name of this.labelNames) key += `${labels[name]}\u0000`;
    let series = this.#series.get(key);
    if (!series) {
      series = { labels: { ...labels }, sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    series.sum += value;
    series.count++;
  }

  get(): { name: string; help: string; type: "summary"; values: MetricValue<L>[]; aggregator: "sum" } {
    const values: MetricValue<L>[] = [];
    for (const { labels, sum, count } of this.#series.values()) {
      values.push({ metricName: `${this.name}_sum`, labels, value: sum } as MetricValue<L>);
      values.push({ metricName: `${this.name}_count`, labels, value: count } as MetricValue<L>);
    }
    return { name: this.name, help: this.help, type: "summary", values, aggregator: "sum" };
  }

  reset(): void {
    this.#series.clear();
  }
}

/** Serves `GET /metrics` (any path answers the metrics text; other methods 405). */
export async function startMetricsServer(metrics: ServiceMetrics, port: number, host: string): Promise<http.Server & { port: number }> {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text);
      },
      (error: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return Object.assign(server, { port: (server.address() as AddressInfo).port });
}
