import http from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Registry, Summary, collectDefaultMetrics } from "prom-client";

/** The operation label values, as the Python service names them (plus the RPCs Python does not count). */
export type OperationLabel = "create" | "get" | "delete" | "metrics" | "logs" | "list" | "get_connector";

/** Prometheus metrics of one service instance, in their own registry (several instances may share a process). */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly success: Counter<"task_type" | "operation">;
  readonly failure: Counter<"task_type" | "operation" | "error_code">;
  readonly latency: Summary<"task_type" | "operation">;
  readonly inputBytes: Summary<"task_type">;

  constructor() {
    const registers = [this.registry];
    const summary = { percentiles: [0.5, 0.9, 0.99], maxAgeSeconds: 600, ageBuckets: 5 };
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
    this.latency = new Summary({
      name: "flyte_connector_request_latency_seconds",
      help: "Time spent processing connector request",
      labelNames: ["task_type", "operation"],
      registers,
      ...summary,
    });
    this.inputBytes = new Summary({
      name: "flyte_connector_input_literal_bytes",
      help: "Size of input literal",
      labelNames: ["task_type"],
      registers,
      ...summary,
    });
    collectDefaultMetrics({ register: this.registry });
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
