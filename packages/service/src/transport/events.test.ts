import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { Writable } from "node:stream";
import { pino } from "pino";
import { ServiceMetrics } from "../metrics.js";
import { startConnectorService } from "../service.js";
import { TRANSPORT_EVENT_NAMES, TransportEventLog } from "./events.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: "info" }, stream) };
}

async function metricValue(metrics: ServiceMetrics, event: string): Promise<number | undefined> {
  const metric = await metrics.transportEvents.get();
  return metric.values.find((v) => v.labels.event === event)?.value;
}

test("transport events: every event counted; one log line per name per interval, then how many were not logged", async () => {
  const metrics = new ServiceMetrics();
  const { lines, logger } = capture();
  const log = new TransportEventLog({ count: (event) => metrics.transportEvents.inc({ event }), logger, intervalMs: 200 });
  for (let i = 0; i < 100; i++) log.record({ event: "session_error", detail: { code: "ERR_HTTP2_ERROR" } });
  log.record({ event: "goaway_sent", detail: { reason: "max_connection_age" } });
  assert.equal(await metricValue(metrics, "session_error"), 100);
  assert.equal(await metricValue(metrics, "goaway_sent"), 1);
  assert.equal(await metricValue(metrics, "stream_refused"), 0, "names that have not happened are exported as 0");
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.deepEqual(
    lines.map((l) => [l["transportEvent"], l["level"], l["code"] ?? l["reason"]]),
    [
      ["session_error", 40, "ERR_HTTP2_ERROR"],
      ["goaway_sent", 30, "max_connection_age"],
    ],
  );
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!["transportEvent"], "session_error");
  assert.equal(lines[2]!["suppressed"], 99);
  // A new window: the next event is logged again.
  log.record({ event: "session_error", detail: { code: "ECONNRESET" } });
  assert.equal(lines.length, 4);
  assert.equal(lines[3]!["code"], "ECONNRESET");
  log.flush();
});

test("transport events: flush reports what an open window held back", () => {
  const { lines, logger } = capture();
  const log = new TransportEventLog({ count: () => {}, logger, intervalMs: 60_000 });
  log.record({ event: "socket_error" });
  log.record({ event: "socket_error" });
  log.flush();
  assert.deepEqual(lines.map((l) => l["suppressed"]), [undefined, 1]);
  assert.equal(TRANSPORT_EVENT_NAMES.length, new Set(TRANSPORT_EVENT_NAMES).size);
});

test("the service counts and logs its transport's events (both transports): a connection aged out", async () => {
  for (const transport of ["native", "grpc-js"] as const) {
    const { lines, logger } = capture();
    const service = await startConnectorService({ transport, port: 0, prometheusPort: 0, connectPort: null, host: "127.0.0.1", discover: false, logger, maxConnectionAgeMs: 200 });
    const session = http2.connect(`http://127.0.0.1:${service.port}`);
    session.on("error", () => {});
    try {
      await new Promise((resolve) => session.once("goaway", resolve));
      const text = await (await fetch(`http://127.0.0.1:${service.prometheusPort}/metrics`)).text();
      assert.match(text, /^flyte_connector_transport_events_total\{event="goaway_sent"\} 1$/m, `${transport}: ${text.split("\n").filter((l) => l.includes("transport_events")).join("\n")}`);
      assert.match(text, /^flyte_connector_transport_events_total\{event="session_error"\} 0$/m);
      const line = lines.find((l) => l["transportEvent"] === "goaway_sent");
      assert.equal(line?.["reason"], "max_connection_age", `${transport}: ${JSON.stringify(lines)}`);
    } finally {
      session.destroy();
      await service.forceClose();
    }
  }
});
