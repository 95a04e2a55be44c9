import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import { ConnectorRegistry, ConnectorError } from "flyte-connectors";
import { AsyncConnectorService, ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { CreateTaskRequestSchema, GetTaskLogsRequestSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { InputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { startConnectorService, type ConnectorServiceHandle, type ConnectorServiceOptions } from "./service.js";
import { TestConnector, observed } from "./testing/fixture-connectors.js";
import { healthCheck, testClient, type TestClient } from "./testing/client.js";
import { testTransport } from "./testing/transport.js";

const A = AsyncConnectorService.method;
const M = ConnectorMetadataService.method;

/** A CreateTask request for task type "test" with `custom` as the template's custom struct. */
function createRequest(custom: Record<string, string | number>, extra: Record<string, unknown> = {}) {
  return {
    template: { type: "test", custom, id: { name: "t" } },
    outputPrefix: "s3://bucket/shard/run/action/1",
    connection: { secrets: { token: "s3cr3t-T0KEN" } },
    ...extra,
  };
}

function getRequest(ms = 0, taskType = "test") {
  return {
    taskCategory: { name: taskType, version: 0 },
    resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "job-1", ms })),
    outputPrefix: "s3://bucket/shard/run/action/1",
  };
}

async function rejects(promise: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    if (message) assert.match(e.details, message);
    return e;
  }
  assert.fail(`expected ${grpc.status[code]}, got OK`);
}

/** Collects the service's JSON log lines. */
function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  });
  return { lines, logger: pino({ level: "info" }, stream) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects when `promise` takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]);
}

/** A gRPC message frame: flag, 4-byte length (default: the payload's), payload. */
function frame(flag: number, payload: Uint8Array, len = payload.length): Buffer {
  return Buffer.concat([Buffer.from([flag, len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255]), payload]);
}

const CREATE_TASK = "/flyteidl2.connector.AsyncConnectorService/CreateTask";
const GET_TASK = "/flyteidl2.connector.AsyncConnectorService/GetTask";
const GET_TASK_LOGS = "/flyteidl2.connector.AsyncConnectorService/GetTaskLogs";

function h2c(port: number): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  return session;
}

/**
 * A gRPC call over a raw HTTP/2 session: resolves when the stream closes, with the grpc-status (from headers or
 * trailers) and the RST_STREAM code. `read: false` never reads the response (flow control then stops the server).
 */
function rawCall(session: http2.ClientHttp2Session, path: string, body: Buffer, headers: Record<string, string> = {}, { read = true } = {}) {
  return new Promise<{ status: string | undefined; rstCode: number | undefined }>((resolve) => {
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    let status: string | undefined;
    req.on("response", (h) => (status = (h["grpc-status"] as string | undefined) ?? status));
    req.on("trailers", (t) => (status = t["grpc-status"] as string));
    req.on("error", () => {});
    if (read) req.resume();
    req.on("close", () => resolve({ status, rstCode: req.rstCode }));
    req.end(body);
  });
}

/** A GetTaskLogs request whose connector answers pages without end (fixture meta id "flood"). */
const floodLogs = () =>
  frame(0, toBinary(GetTaskLogsRequestSchema, create(GetTaskLogsRequestSchema, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "flood", ms: 0 })) })));

async function scrape(service: ConnectorServiceHandle): Promise<string> {
  return (await fetch(`http://127.0.0.1:${service.prometheusPort}/metrics`)).text();
}

async function start(options: ConnectorServiceOptions = {}) {
  const registry = new ConnectorRegistry().register(new TestConnector());
  return startConnectorService({ port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, registry, transport: testTransport(), ...options });
}

describe("connector service over a real gRPC client", () => {
  let service: ConnectorServiceHandle;
  let client: TestClient;
  const logs = logSink();

  before(async () => {
    service = await start({ logger: logs.logger, maxReceiveMessageBytes: 8 * 1024 * 1024 });
    client = testClient(service.port);
  });
  after(async () => {
    client.close();
    await service.forceClose();
  });

  test("ListConnectors and GetConnector", async () => {
    const list = await client.unary(M.listConnectors, {});
    const names = list.connectors.map((c) => c.name);
    assert.ok(names.includes("Test Connector"));
    assert.ok(names.includes("Echo Connector"), "built-ins are served by default");
    const test = list.connectors.find((c) => c.name === "Test Connector");
    assert.deepEqual(test?.supportedTaskCategories.map((c) => [c.name, c.version]), [["test", 0]]);
    const one = await client.unary(M.getConnector, { name: "Test Connector" });
    assert.equal(one.connector?.name, "Test Connector");
    await rejects(client.unary(M.getConnector, { name: "nope" }), grpc.status.NOT_FOUND);
  });

  test("CreateTask, GetTask, DeleteTask, GetTaskMetrics, GetTaskLogs", async () => {
    const created = await client.unary(A.createTask, createRequest({ ms: 1 }));
    const meta = JSON.parse(new TextDecoder().decode(created.resourceMeta)) as { id: string; ms: number };
    assert.equal(meta.ms, 1);
    const got = await client.unary(A.getTask, { taskCategory: { name: "test", version: 0 }, resourceMeta: created.resourceMeta });
    assert.equal(got.resource?.phase, 3);
    assert.match(got.resource?.message ?? "", /^done job-/);
    await client.unary(A.deleteTask, { taskCategory: { name: "test", version: 0 }, resourceMeta: created.resourceMeta });
    const metrics = await client.unary(A.getTaskMetrics, { taskCategory: { name: "test", version: 0 }, resourceMeta: created.resourceMeta });
    assert.deepEqual(metrics.results, []);
    const parts = await client.stream(A.getTaskLogs, { taskCategory: { name: "test", version: 0 }, resourceMeta: created.resourceMeta });
    assert.deepEqual(
      parts.map((p) => p.part.case),
      ["header", "body"],
    );
    assert.equal(parts[0]?.part.case === "header" && parts[0].part.value.token, "next-page");
    assert.deepEqual(parts[1]?.part.case === "body" && parts[1].part.value.lines.map((l) => l.message), ["line 1", "line 2"]);
  });

  test("built-in echo connector round trip", async () => {
    const created = await client.unary(A.createTask, { template: { type: "echo", id: { name: "e" } }, outputPrefix: "s3://b/p" });
    const got = await client.unary(A.getTask, { taskCategory: { name: "echo", version: 0 }, resourceMeta: created.resourceMeta });
    assert.equal(got.resource?.phase, 3);
  });

  test("error statuses: NOT_FOUND, INVALID_ARGUMENT, INTERNAL (cut, redacted), UNIMPLEMENTED", async () => {
    await rejects(client.unary(A.getTask, getRequest(0, "no-such-type")), grpc.status.NOT_FOUND, /Cannot find connector for task type: no-such-type\./);
    await rejects(client.unary(A.createTask, createRequest({ mode: "invalid" })), grpc.status.INVALID_ARGUMENT, /bad input/);
    const internal = await rejects(client.unary(A.createTask, createRequest({ mode: "internal" })), grpc.status.INTERNAL, /failed to create test task/);
    assert.ok(internal.details.length < 5000, `INTERNAL message cut (${internal.details.length} chars)`);
    assert.ok(!internal.details.includes("s3cr3t-T0KEN"), "secret redacted from the message");
    // The echo connector has no getMetrics.
    await rejects(client.unary(A.getTaskMetrics, getRequest(0, "echo")), grpc.status.UNIMPLEMENTED);
    // A method the service does not have.
    await rejects(
      new Promise((resolve, reject) =>
        client.raw.makeUnaryRequest("/flyteidl2.connector.AsyncConnectorService/Nope", (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e, r) => (e ? reject(e) : resolve(r))),
      ),
      grpc.status.UNIMPLEMENTED,
    );
    // Secrets never reach the logs.
    assert.ok(logs.lines.length > 0);
    assert.ok(!logs.lines.some((line) => line.includes("s3cr3t-T0KEN")), "no log line carries the secret");
    const line = JSON.parse(logs.lines.find((l) => l.includes('"op":"create"'))!) as Record<string, unknown>;
    for (const key of ["reqId", "op", "taskType", "ms"]) assert.ok(key in line, `log line has ${key}`);
  });

  test("DeleteTask with undecodable resource meta is OK", async () => {
    await client.unary(A.deleteTask, { taskCategory: { name: "test", version: 0 }, resourceMeta: new Uint8Array([0xff, 0x00, 0x13]) });
  });

  test("a CreateTask over 4 MiB is accepted; over the receive limit is RESOURCE_EXHAUSTED", async () => {
    const big = "b".repeat(5 * 1024 * 1024);
    const literal = (s: string) => ({ value: { case: "scalar" as const, value: { value: { case: "primitive" as const, value: { value: { case: "stringValue" as const, value: s } } } } } });
    const created = await client.unary(A.createTask, createRequest({}, { inputs: { literals: [{ name: "blob", value: literal(big) }] } }));
    assert.ok(observed.lastCreateInputSize > 5 * 1024 * 1024);
    assert.ok(created.resourceMeta.length > 0);
    const huge = "h".repeat(9 * 1024 * 1024);
    await rejects(client.unary(A.createTask, createRequest({}, { inputs: { literals: [{ name: "blob", value: literal(huge) }] } })), grpc.status.RESOURCE_EXHAUSTED);
  });

  test("deadline: the signal fires and the call ends DEADLINE_EXCEEDED in time", async () => {
    const before = observed.abortReasons.length;
    const t0 = Date.now();
    await rejects(client.unary(A.createTask, createRequest({ mode: "wait" }), { deadline: Date.now() + 300 }), grpc.status.DEADLINE_EXCEEDED);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 1500, `ended after ${elapsed} ms`);
    for (let i = 0; i < 100 && observed.abortReasons.length === before; i++) await sleep(10);
    assert.equal(observed.abortReasons.length, before + 1, "the connector's signal fired");
    // grpc-js also cancels at its deadline, racing the server's timer (AbortError when its RST_STREAM wins); a raw
    // client that sends only grpc-timeout shows the reason the server's own deadline gives the connector.
    const session = h2c(service.port);
    try {
      const body = frame(0, toBinary(CreateTaskRequestSchema, create(CreateTaskRequestSchema, createRequest({ mode: "wait" }))));
      const started = observed.abortReasons.length;
      assert.equal((await rawCall(session, CREATE_TASK, body, { "grpc-timeout": "200m" })).status, "4");
      for (let i = 0; i < 100 && observed.abortReasons.length === started; i++) await sleep(10);
      const reason = observed.abortReasons[started] as { name?: string } | undefined;
      assert.equal(reason?.name, "TimeoutError", "connector's signal fired with a timeout reason");
    } finally {
      session.close();
    }
  });

  test("client cancel mid-call fires the signal", async () => {
    const before = observed.abortReasons.length;
    const { call, result } = client.start(A.createTask, createRequest({ mode: "wait" }));
    await new Promise((r) => setTimeout(r, 100));
    call.cancel();
    await rejects(result, grpc.status.CANCELLED);
    for (let i = 0; i < 50 && observed.abortReasons.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((observed.abortReasons[before] as { name?: string }).name, "AbortError");
  });

  test("health Check and Watch", async () => {
    for (const name of ["", AsyncConnectorService.typeName, ConnectorMetadataService.typeName]) {
      assert.equal(await healthCheck(client, name), "SERVING");
    }
    await rejects(healthCheck(client, "no.such.Service"), grpc.status.NOT_FOUND);
    const watch = (client.health["watch"] as Function).call(client.health, { service: "" }) as grpc.ClientReadableStream<{ status: string }>;
    const [first] = (await new Promise((resolve) => watch.once("data", (d) => resolve([d])))) as [{ status: string }];
    assert.equal(first.status, "SERVING");
    watch.cancel();
    watch.on("error", () => {});
  });

  test("garbage bytes, bad frames and compressed messages do not hurt the server", async () => {
    // Not HTTP/2 at all.
    await new Promise<void>((resolve) => {
      const socket = net.connect(service.port, "127.0.0.1", () => socket.end(Buffer.from("GET / HTTP/1.1\r\n\r\n\x00\xff garbage")));
      socket.on("error", () => resolve());
      socket.on("close", () => resolve());
      socket.resume();
    });
    // HTTP/2 streams with broken gRPC framing: the codes the README promises.
    const session = h2c(service.port);
    const call = async (body: Buffer, headers: Record<string, string> = {}) => (await rawCall(session, GET_TASK, body, headers)).status;
    const msg = toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, getRequest()));
    // grpc-js reads a compressed flag without grpc-encoding as "identity" and decodes the message (lenient; grpc-go
    // and the native transport refuse it, as the protocol doc says).
    assert.equal(await call(frame(1, msg)), testTransport() === "grpc-js" ? "0" : "13", "compressed flag without grpc-encoding: INTERNAL");
    assert.equal(await call(frame(1, msg), { "grpc-encoding": "gzip" }), "13", "compressed message that is not gzip: INTERNAL");
    assert.equal(await call(frame(1, msg), { "grpc-encoding": "br-unknown" }), "12", "unknown encoding: UNIMPLEMENTED");
    // grpc-js drops an unfinished message at the half-close and answers as for no message (UNIMPLEMENTED).
    assert.equal(await call(frame(0, msg, msg.length + 100)), testTransport() === "grpc-js" ? "12" : "13", "truncated message: INTERNAL");
    assert.equal(await call(frame(0, Buffer.from([0xff, 0xff, 0xff]))), "13", "undecodable protobuf: INTERNAL");
    assert.equal(await call(frame(0, msg)), "0", "a good message still works on the same connection");
    session.close();
    assert.equal((await client.unary(A.getTask, getRequest())).resource?.phase, 3);
  });

  test("a grpc-timeout beyond the longest Node timer (grpc-go sends e.g. 2592000S) is no deadline", async () => {
    const session = h2c(service.port);
    try {
      const body = frame(0, toBinary(GetTaskRequestSchema, create(GetTaskRequestSchema, getRequest(100))));
      for (const timeout of ["2592000S", "99999999H", "2147484S"]) {
        assert.equal((await rawCall(session, GET_TASK, body, { "grpc-timeout": timeout })).status, "0", `grpc-timeout ${timeout}`);
      }
      assert.equal((await rawCall(session, GET_TASK, body, { "grpc-timeout": "20m" })).status, "4", "a short deadline still applies");
    } finally {
      session.close();
    }
  });
});

describe("service options", () => {
  test("--worker limit: calls over it wait, and end at their deadline while waiting", async () => {
    const service = await start({ worker: 1, logLevel: "silent", builtins: false });
    const client = testClient(service.port);
    try {
      const slow = client.unary(A.getTask, getRequest(400));
      const t0 = Date.now();
      await rejects(client.unary(A.getTask, getRequest(0), { deadline: Date.now() + 150 }), grpc.status.DEADLINE_EXCEEDED);
      assert.ok(Date.now() - t0 < 1000);
      const queued = client.unary(A.getTask, getRequest(0));
      await slow;
      await queued;
    } finally {
      client.close();
      await service.forceClose();
    }
  });

  test("anything but a ConnectorError from the dispatcher is INTERNAL with a generic message", async () => {
    const service = await startConnectorService({
      port: 0,
      host: "127.0.0.1",
      prometheusPort: null,
      logLevel: "silent",
      transport: testTransport(),
      dispatcher: {
        getTask: async () => {
          throw new TypeError("bug with private detail");
        },
        listConnectors: () => {
          throw new ConnectorError("UNAVAILABLE", "not now");
        },
      },
    } as ConnectorServiceOptions);
    const client = testClient(service.port);
    try {
      const e = await rejects(client.unary(A.getTask, getRequest()), grpc.status.INTERNAL, /Internal error/);
      assert.ok(!e.details.includes("private detail"));
      await rejects(client.unary(M.listConnectors, {}), grpc.status.UNAVAILABLE, /not now/);
    } finally {
      client.close();
      await service.forceClose();
    }
  });

  test("keepalive pings every second during a slow call do not close the connection", async () => {
    const service = await start({ logLevel: "silent", builtins: false });
    const client = testClient(service.port, { "grpc.keepalive_time_ms": 1000, "grpc.keepalive_timeout_ms": 1000, "grpc.keepalive_permit_without_calls": 1 });
    try {
      const got = await client.unary(A.getTask, getRequest(3500));
      assert.equal(got.resource?.phase, 3);
      assert.equal((await client.unary(A.getTask, getRequest(0))).resource?.phase, 3, "same channel still usable");
    } finally {
      client.close();
      await service.forceClose();
    }
  });

  test("metrics endpoint: names, labels, error codes, unknown task types, input sizes, default metrics", async () => {
    const logs = logSink();
    const service = await start({ logger: logs.logger });
    const client = testClient(service.port);
    try {
      const literal = (s: string) => ({ value: { case: "scalar" as const, value: { value: { case: "primitive" as const, value: { value: { case: "stringValue" as const, value: s } } } } } });
      const inputs = { literals: [{ name: "a", value: literal("x".repeat(1000)) }, { name: "b", value: literal("yz") }] };
      const inputsSize = toBinary(InputsSchema, create(InputsSchema, inputs)).byteLength;
      await client.unary(A.createTask, createRequest({ ms: 0 }, { inputs }));
      await client.unary(A.createTask, createRequest({ ms: 0 }));
      await client.unary(A.getTask, getRequest());
      await client.unary(A.getTask, getRequest());
      await client.unary(M.listConnectors, {});
      await rejects(client.unary(A.createTask, createRequest({ mode: "invalid" })), grpc.status.INVALID_ARGUMENT);
      await rejects(client.unary(A.createTask, createRequest({ mode: "internal" })), grpc.status.INTERNAL);
      await rejects(client.unary(A.getTaskMetrics, getRequest(0, "echo")), grpc.status.UNIMPLEMENTED);
      // Task types this service does not serve: one "unknown" series, however many the clients send.
      const long = "z".repeat(1000);
      for (const taskType of ["no-such-type-1", "no-such-type-2", long]) await rejects(client.unary(A.getTask, getRequest(0, taskType)), grpc.status.NOT_FOUND);
      await rejects(client.unary(A.createTask, { ...createRequest({}, { inputs }), template: { type: "no-such-type-3", id: { name: "t" } } }), grpc.status.NOT_FOUND);

      const text = await scrape(service);
      assert.match(text, /flyte_connector_requests_success_total\{task_type="test",operation="get"\} 2\n/);
      assert.match(text, /flyte_connector_requests_success_total\{task_type="test",operation="create"\} 2\n/);
      assert.match(text, /flyte_connector_requests_success_total\{task_type="",operation="list"\} 1\n/);
      assert.match(text, /flyte_connector_requests_failure_total\{task_type="test",operation="create",error_code="400"\} 1\n/);
      assert.match(text, /flyte_connector_requests_failure_total\{task_type="test",operation="create",error_code="500"\} 1\n/);
      assert.match(text, /flyte_connector_requests_failure_total\{task_type="echo",operation="metrics",error_code="501"\} 1\n/);
      assert.match(text, /flyte_connector_requests_failure_total\{task_type="unknown",operation="get",error_code="404"\} 3\n/);
      assert.match(text, /flyte_connector_requests_failure_total\{task_type="unknown",operation="create",error_code="404"\} 1\n/);
      assert.doesNotMatch(text, /no-such-type|zzzz/, "task types sent by clients are not labels");
      assert.match(text, /flyte_connector_request_latency_seconds_count\{task_type="test",operation="get"\} 2\n/);
      assert.match(text, /flyte_connector_request_latency_seconds_count\{task_type="unknown",operation="get"\} 3\n/);
      // The inputs' size as received: exactly their serialized length; requests without inputs count 0.
      assert.match(text, new RegExp(`flyte_connector_input_literal_bytes_sum\\{task_type="test"\\} ${inputsSize}\\n`));
      assert.match(text, /flyte_connector_input_literal_bytes_count\{task_type="test"\} 4\n/);
      assert.match(text, new RegExp(`flyte_connector_input_literal_bytes_sum\\{task_type="unknown"\\} ${inputsSize}\\n`));
      assert.match(text, /# TYPE flyte_connector_request_latency_seconds summary/);
      assert.match(text, /nodejs_eventloop_lag_seconds/);
      assert.match(text, /process_resident_memory_bytes/);
      // The log lines keep the task type as sent, cut to 128 characters.
      const failed = logs.lines.map((l) => JSON.parse(l) as { msg: string; taskType?: string }).filter((l) => l.msg === "request failed");
      assert.ok(failed.some((l) => l.taskType === "no-such-type-1"));
      assert.ok(failed.some((l) => l.taskType === `${"z".repeat(128)}…`));
    } finally {
      client.close();
      await service.forceClose();
    }
  });

  test("a log stream whose client stops reading ends at its deadline: reset with CANCEL, handler done, DEADLINE_EXCEEDED recorded", async () => {
    const service = await start({ logLevel: "silent", builtins: false });
    const session = h2c(service.port);
    try {
      const closedBefore = observed.floodsClosed;
      const t0 = Date.now();
      const result = await within(rawCall(session, GET_TASK_LOGS, floodLogs(), { "grpc-timeout": "300m" }, { read: false }), 3000, "stream reset");
      assert.equal(result.rstCode, http2.constants.NGHTTP2_CANCEL);
      assert.ok(Date.now() - t0 < 1500, `reset after ${Date.now() - t0} ms`);
      for (let i = 0; i < 100 && observed.floodsClosed === closedBefore; i++) await sleep(10);
      assert.equal(observed.floodsClosed, closedBefore + 1, "the connector's page iterator was closed");
      const text = await scrape(service);
      assert.match(text, /flyte_connector_requests_failure_total\{task_type="test",operation="logs",error_code="504"\} 1\n/);
      assert.doesNotMatch(text, /flyte_connector_requests_success_total\{task_type="test",operation="logs"\}/);
      // Nothing in flight: a graceful close does not wait out the grace period.
      const t1 = Date.now();
      await service.close({ gracePeriodMs: 10_000 });
      assert.ok(Date.now() - t1 < 2000, `close took ${Date.now() - t1} ms`);
    } finally {
      session.destroy();
      await service.forceClose();
    }
  });

  test("--worker: a log stream waiting for its client to read holds no worker slot", async () => {
    const service = await start({ worker: 1, logLevel: "silent", builtins: false });
    const session = h2c(service.port);
    const client = testClient(service.port);
    try {
      void rawCall(session, GET_TASK_LOGS, floodLogs(), {}, { read: false });
      await sleep(200);
      const got = await client.unary(A.getTask, getRequest(0), { deadline: Date.now() + 1000 });
      assert.equal(got.resource?.phase, 3);
    } finally {
      client.close();
      session.destroy();
      await service.forceClose();
    }
  });

  test("a grace period beyond the longest Node timer is clamped, not cut to nothing", async () => {
    const service = await start({ logLevel: "silent", builtins: false, gracePeriodMs: 2 ** 32 });
    const client = testClient(service.port);
    try {
      // Longer than the 500 ms close() gives sessions after the grace period.
      const slow = client.unary(A.getTask, getRequest(800));
      await sleep(50);
      const closed = service.close();
      assert.equal((await slow).resource?.phase, 3, "the call in flight finishes");
      await closed;
    } finally {
      client.close();
      await service.forceClose();
    }
  });
});
