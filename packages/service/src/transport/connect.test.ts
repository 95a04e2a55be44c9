// The Connect port through the official @connectrpc/connect-node client (Connect protocol: binary and JSON, HTTP/1.1
// and HTTP/2; gRPC-Web too), plain HTTP/1.1 requests as curl sends them (node:http with JSON bodies, and curl
// itself), compared with the gRPC port (grpc-js client) of the same service where both should agree.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import zlib from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { create, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ConnectorRegistry } from "flyte-connectors";
import { AsyncConnectorService, ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { GetTaskLogsResponseSchema, GetTaskRequestSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { startConnectorService, type ConnectorServiceHandle } from "../service.js";
import { TestConnector, observed } from "../testing/fixture-connectors.js";
import { testClient, type TestClient } from "../testing/client.js";
import { spawnService } from "../testing/spawn.js";
import { selfSignedCertificate } from "../testing/tls.js";

const A = AsyncConnectorService.method;
const fixture = fileURLToPath(new URL("../testing/fixture-connectors.ts", import.meta.url));
const slowLoad = fileURLToPath(new URL("../testing/slow-load.ts", import.meta.url));
const bin = fileURLToPath(new URL("../../bin/flyte-connector.js", import.meta.url));

const literal = (s: string) => ({ value: { case: "scalar" as const, value: { value: { case: "primitive" as const, value: { value: { case: "stringValue" as const, value: s } } } } } });

function createRequest(custom: Record<string, string | number>, extra: Record<string, unknown> = {}) {
  return {
    template: { type: "test", custom, id: { name: "t" } },
    outputPrefix: "s3://bucket/shard/run/action/1",
    connection: { secrets: { token: "s3cr3t-T0KEN" } },
    ...extra,
  };
}

function getRequest(id: string, ms = 0, taskType = "test") {
  return {
    taskCategory: { name: taskType, version: 0 },
    resourceMeta: new TextEncoder().encode(JSON.stringify({ id, ms })),
    outputPrefix: "s3://bucket/shard/run/action/1",
  };
}

async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("expected an error, got OK");
}

async function grpcError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  assert.fail("expected an error, got OK");
}

/** A plain HTTP/1.1 request as curl sends it (one connection per request). */
function post(port: number, path: string, body: string | Buffer, headers: Record<string, string> = { "content-type": "application/json" }) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function get(port: number, path: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += String(c)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

const TRANSPORTS: Record<string, (port: number) => Transport> = {
  "Connect binary HTTP/1.1": (port) => createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", useBinaryFormat: true }),
  "Connect JSON HTTP/1.1": (port) => createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", useBinaryFormat: false }),
  "Connect binary HTTP/2": (port) => createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2", useBinaryFormat: true }),
  "Connect JSON HTTP/2": (port) => createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2", useBinaryFormat: false }),
  "gRPC-Web binary HTTP/1.1": (port) => createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", useBinaryFormat: true }),
};

async function start(options: Record<string, unknown> = {}): Promise<ConnectorServiceHandle> {
  const registry = new ConnectorRegistry().register(new TestConnector());
  return startConnectorService({ port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, builtins: false, registry, logLevel: "silent", maxReceiveMessageBytes: 8 * 1024 * 1024, ...options });
}

async function metricsText(service: ConnectorServiceHandle): Promise<string> {
  return (await fetch(`http://127.0.0.1:${service.prometheusPort}/metrics`)).text();
}

/** The flyte_connector_* series (names, labels, counts) without latency sums: what must match between ports. */
function connectorSeries(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("flyte_connector_") && !line.startsWith("flyte_connector_request_latency_seconds_sum"))
    .sort();
}

describe("Connect port", () => {
  let service: ConnectorServiceHandle;
  let grpcClient: TestClient;

  before(async () => {
    service = await start();
    grpcClient = testClient(service.port);
  });
  after(async () => {
    grpcClient.close();
    await service.forceClose();
  });

  for (const [name, makeTransport] of Object.entries(TRANSPORTS)) {
    describe(name, () => {
      let async: Client<typeof AsyncConnectorService>;
      let meta: Client<typeof ConnectorMetadataService>;
      before(() => {
        const transport = makeTransport(service.connectPort!);
        async = createClient(AsyncConnectorService, transport);
        meta = createClient(ConnectorMetadataService, transport);
      });

      test("create → get → delete, and the connectors listed", async () => {
        const created = await async.createTask(createRequest({}, { inputs: { literals: [{ name: "a", value: literal("hello") }] } }));
        const resourceMeta = created.resourceMeta;
        const metaJson = JSON.parse(new TextDecoder().decode(resourceMeta)) as { id: string };
        assert.equal(metaJson.id, `job-${observed.lastCreateInputSize}`);
        const got = await async.getTask({ taskCategory: { name: "test", version: 0 }, resourceMeta, outputPrefix: "s3://b/p" });
        assert.equal(got.resource?.phase, 3);
        assert.equal(got.resource?.message, `done ${metaJson.id}`);
        await async.deleteTask({ taskCategory: { name: "test", version: 0 }, resourceMeta });
        const listed = await meta.listConnectors({});
        assert.deepEqual(
          listed.connectors.map((c) => c.supportedTaskCategories.map((t) => t.name)),
          [["test"]],
        );
      });

      test("errors: the gRPC port's codes and messages", async () => {
        const notFound = await connectError(async.getTask(getRequest("x", 0, "nope")));
        const grpcNotFound = await grpcError(grpcClient.unary(A.getTask, getRequest("x", 0, "nope")));
        assert.equal(notFound.code, Code.NotFound);
        assert.equal(notFound.rawMessage, grpcNotFound.details);
        assert.match(notFound.rawMessage, /^Cannot find connector for task type: nope\./);

        const invalid = await connectError(async.createTask(createRequest({ mode: "invalid" })));
        const grpcInvalid = await grpcError(grpcClient.unary(A.createTask, createRequest({ mode: "invalid" })));
        assert.equal(invalid.code, Code.InvalidArgument);
        assert.equal(grpcInvalid.code, grpc.status.INVALID_ARGUMENT);
        assert.equal(invalid.rawMessage, grpcInvalid.details);

        const internal = await connectError(async.createTask(createRequest({ mode: "internal" })));
        const grpcInternal = await grpcError(grpcClient.unary(A.createTask, createRequest({ mode: "internal" })));
        assert.equal(internal.code, Code.Internal);
        assert.doesNotMatch(internal.rawMessage, /s3cr3t-T0KEN/, "secrets redacted as on the gRPC port");
        assert.equal(internal.rawMessage.replace(/request id \S+/, ""), grpcInternal.details.replace(/request id \S+/, ""));
      });

      test("deadline: the connector's signal aborts with TimeoutError, the client gets DEADLINE_EXCEEDED", async () => {
        const before = observed.abortReasons.length;
        const t0 = performance.now();
        const error = await connectError(async.createTask(createRequest({ mode: "wait" }), { timeoutMs: 300 }));
        assert.equal(error.code, Code.DeadlineExceeded);
        assert.ok(performance.now() - t0 < 10_000);
        // The connector's signal fired: the server's connect-timeout-ms timer (TimeoutError) or, when the client's
        // own timer closed the request first (HTTP/1.1 has no other way to cancel), the disconnect (AbortError).
        for (let i = 0; i < 100 && observed.abortReasons.length === before; i++) await new Promise((r) => setTimeout(r, 20));
        const reason = observed.abortReasons.at(-1) as DOMException;
        assert.ok(reason.name === "TimeoutError" || reason.name === "AbortError", String(reason));
      });

      test("DeleteTask of an undecodable meta is OK (as on gRPC)", async () => {
        await async.deleteTask({ taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode("\u0000not json{") });
      });

      test("GetTaskLogs streams the same parts as gRPC", async () => {
        const parts = [];
        for await (const part of async.getTaskLogs({ taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "j", ms: 0 })) })) parts.push(part);
        const grpcParts = await grpcClient.stream(A.getTaskLogs, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "j", ms: 0 })) });
        assert.ok(parts.length > 0);
        assert.deepEqual(
          parts.map((p) => toJson(GetTaskLogsResponseSchema, p)),
          grpcParts.map((p) => toJson(GetTaskLogsResponseSchema, p)),
        );
      });

      test("GetTaskLogs: large pages (gzipped when accepted) until the client stops reading; the connector's stream is closed", async () => {
        const closedBefore = observed.floodsClosed;
        // The client cancels after 3 pages (connect-node still yields what it had buffered, then CANCELED).
        const controller = new AbortController();
        let pages = 0;
        const error = await connectError(
          (async () => {
            for await (const part of async.getTaskLogs(
              { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "flood", ms: 0 })) },
              { signal: controller.signal },
            )) {
              if (part.part.case === "body") assert.equal(part.part.value.results.length, 64);
              if (++pages === 1) {
                // A connector producing pages from memory must not starve other calls of the process.
                const t0 = performance.now();
                await async.getTask(getRequest("meanwhile"));
                assert.ok(performance.now() - t0 < 5000, `a GetTask beside the stream took ${Math.round(performance.now() - t0)} ms`);
              }
              if (pages === 3) controller.abort();
            }
          })(),
        );
        assert.equal(error.code, Code.Canceled);
        assert.ok(pages >= 3);
        for (let i = 0; i < 200 && observed.floodsClosed === closedBefore; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(observed.floodsClosed, closedBefore + 1, "the connector's page iterator was closed");
      });

      test("a 6 MiB CreateTask is accepted; over the receive limit is RESOURCE_EXHAUSTED", async () => {
        const big = "b".repeat(6 * 1024 * 1024);
        const created = await async.createTask(createRequest({}, { inputs: { literals: [{ name: "blob", value: literal(big) }] } }));
        assert.ok(observed.lastCreateInputSize > 6 * 1024 * 1024);
        assert.ok(created.resourceMeta.length > 0);
        const huge = "h".repeat(9 * 1024 * 1024);
        const error = await connectError(async.createTask(createRequest({}, { inputs: { literals: [{ name: "blob", value: literal(huge) }] } })));
        assert.equal(error.code, Code.ResourceExhausted);
      });
    });
  }

  test("curl-style HTTP/1.1 JSON: the cycle, errors as Connect JSON bodies, unknown method, wrong media type", async () => {
    const port = service.connectPort!;
    const created = await post(port, "/flyteidl2.connector.AsyncConnectorService/CreateTask", JSON.stringify({ template: { type: "test", id: { name: "t" } }, outputPrefix: "s3://b/p" }));
    assert.equal(created.status, 200, String(created.body));
    assert.equal(created.headers["content-type"], "application/json");
    const { resourceMeta } = JSON.parse(String(created.body)) as { resourceMeta: string };
    const got = await post(port, "/flyteidl2.connector.AsyncConnectorService/GetTask", JSON.stringify({ taskCategory: { name: "test" }, resourceMeta }));
    assert.equal(got.status, 200);
    assert.equal((JSON.parse(String(got.body)) as { resource: { phase: string } }).resource.phase, "SUCCEEDED");
    const deleted = await post(port, "/flyteidl2.connector.AsyncConnectorService/DeleteTask", JSON.stringify({ taskCategory: { name: "test" }, resourceMeta }));
    assert.equal(deleted.status, 200);
    assert.equal(String(deleted.body), "{}");

    const notFound = await post(port, "/flyteidl2.connector.AsyncConnectorService/GetTask", JSON.stringify({ taskCategory: { name: "nope" }, resourceMeta: "e30" }));
    assert.equal(notFound.status, 404);
    const notFoundBody = JSON.parse(String(notFound.body)) as { code: string; message: string };
    assert.equal(notFoundBody.code, "not_found");
    assert.equal(notFoundBody.message, (await grpcError(grpcClient.unary(A.getTask, getRequest("x", 0, "nope")))).details);

    const badJson = await post(port, "/flyteidl2.connector.AsyncConnectorService/GetTask", "{not json");
    assert.equal(badJson.status, 400);
    assert.equal((JSON.parse(String(badJson.body)) as { code: string }).code, "invalid_argument");

    const unknown = await post(port, "/flyteidl2.connector.AsyncConnectorService/NoSuchMethod", "{}");
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(String(unknown.body)), { code: "unimplemented", message: "Method not found: /flyteidl2.connector.AsyncConnectorService/NoSuchMethod" });

    const media = await post(port, "/flyteidl2.connector.AsyncConnectorService/GetTask", "x", { "content-type": "text/plain" });
    assert.equal(media.status, 415);

    const timeout = await post(port, "/flyteidl2.connector.AsyncConnectorService/GetTask", "{}", { "content-type": "application/json", "connect-timeout-ms": "soon" });
    assert.equal(timeout.status, 400);
  });

  test("connect-timeout-ms on a plain request: 504 deadline_exceeded, the connector's signal aborts with TimeoutError", async () => {
    const t0 = performance.now();
    const before = observed.abortReasons.length;
    const res = await post(port(), "/flyteidl2.connector.AsyncConnectorService/GetTask", JSON.stringify(toJson(GetTaskRequestSchema, create(GetTaskRequestSchema, getRequest("slow", 5000)))), {
      "content-type": "application/json",
      "connect-timeout-ms": "200",
    });
    assert.equal(res.status, 504);
    assert.equal((JSON.parse(String(res.body)) as { code: string }).code, "deadline_exceeded");
    assert.ok(performance.now() - t0 < 4000, "answered at the deadline, not when the connector finished");
    assert.equal(observed.abortReasons.length, before + 1);
    assert.equal((observed.abortReasons.at(-1) as DOMException).name, "TimeoutError");
  });

  test("a log stream whose client stops reading: at connect-timeout-ms the connector's stream is closed, the stream ends with deadline_exceeded", async () => {
    const { GetTaskLogsRequestSchema } = await import("@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js");
    const { toBinary } = await import("@bufbuild/protobuf");
    const message = toBinary(GetTaskLogsRequestSchema, create(GetTaskLogsRequestSchema, { taskCategory: { name: "test" }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "flood", ms: 0 })) }));
    const body = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
    const closedBefore = observed.floodsClosed;
    let response!: http.IncomingMessage;
    const requestError = new Promise<Error>((resolve) => {
      const req = http.request(
        { host: "127.0.0.1", port: port(), path: "/flyteidl2.connector.AsyncConnectorService/GetTaskLogs", method: "POST", agent: false, headers: { "content-type": "application/connect+proto", "connect-timeout-ms": "300" } },
        (res) => {
          res.pause(); // does not read: the server's buffers fill up
          response = res;
        },
      );
      req.on("error", resolve);
      req.end(body);
    });
    for (let i = 0; i < 250 && observed.floodsClosed === closedBefore; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(observed.floodsClosed, closedBefore + 1, "the connector's page iterator was closed at the deadline");
    // Reading now: either the connection was cut (its end could not be sent), or the stream ends with the status.
    const chunks: Buffer[] = [];
    const ended = await Promise.race([
      new Promise<"end" | "cut">((resolve) => {
        response.on("data", (c: Buffer) => chunks.push(c));
        response.on("end", () => resolve("end"));
        response.on("error", () => resolve("cut"));
        response.on("aborted", () => resolve("cut"));
        response.resume();
      }),
      requestError.then(() => "cut" as const),
    ]);
    if (ended === "end") {
      const all = Buffer.concat(chunks);
      let offset = 0;
      let last: { flags: number; payload: Buffer } | undefined;
      while (offset + 5 <= all.length) {
        const length = all.readUInt32BE(offset + 1);
        last = { flags: all[offset]!, payload: all.subarray(offset + 5, offset + 5 + length) };
        offset += 5 + length;
      }
      assert.equal(last?.flags, 2, "an end-stream envelope");
      assert.equal((JSON.parse(String(last.payload)) as { error: { code: string } }).error.code, "deadline_exceeded");
    }
  });

  test("gzip both ways: a gzipped request body; a large answer gzipped when accepted", async () => {
    const body = zlib.gzipSync(Buffer.from(JSON.stringify({ template: { type: "test", id: { name: "t" } }, inputs: { literals: [{ name: "a", value: { scalar: { primitive: { stringValue: "z".repeat(100_000) } } } }] } })));
    const created = await post(port(), "/flyteidl2.connector.AsyncConnectorService/CreateTask", body, { "content-type": "application/json", "content-encoding": "gzip" });
    assert.equal(created.status, 200, String(created.body));
    assert.ok(observed.lastCreateInputSize > 100_000);
    const longId = "x".repeat(5000);
    const getBody = JSON.stringify({ taskCategory: { name: "test" }, resourceMeta: Buffer.from(JSON.stringify({ id: longId, ms: 0 })).toString("base64") });
    const zipped = await post(port(), "/flyteidl2.connector.AsyncConnectorService/GetTask", getBody, { "content-type": "application/json", "accept-encoding": "gzip" });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers["content-encoding"], "gzip");
    assert.equal((JSON.parse(String(zlib.gunzipSync(zipped.body))) as { resource: { message: string } }).resource.message, `done ${longId}`);
    const plainAnswer = await post(port(), "/flyteidl2.connector.AsyncConnectorService/GetTask", getBody);
    assert.equal(plainAnswer.headers["content-encoding"], undefined, "not compressed unless accepted");
    const small = await post(port(), "/flyteidl2.connector.AsyncConnectorService/GetTask", JSON.stringify({ taskCategory: { name: "test" }, resourceMeta: "eyJpZCI6ImEiLCJtcyI6MH0=" }), {
      "content-type": "application/json",
      "accept-encoding": "gzip",
    });
    assert.equal(small.status, 200, String(small.body));
    assert.equal(small.headers["content-encoding"], undefined, "small answers are not compressed");
    const unsupported = await post(port(), "/flyteidl2.connector.AsyncConnectorService/GetTask", "{}", { "content-type": "application/json", "content-encoding": "br" });
    assert.equal(unsupported.status, 501);
  });

  test("curl itself: JSON GetTask, /healthz over h2c, a 6 MiB CreateTask", async (t) => {
    const found = await promisify(execFile)("curl", ["--version"]).then(
      () => true,
      () => false,
    );
    if (!found) {
      if (process.env.CI === "true") assert.fail("curl is not installed");
      t.skip("curl is not installed");
      return;
    }
    const { stdout } = await promisify(execFile)("curl", [
      "-sS",
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify({ taskCategory: { name: "test" }, resourceMeta: Buffer.from(JSON.stringify({ id: "c", ms: 0 })).toString("base64") }),
      `http://127.0.0.1:${port()}/flyteidl2.connector.AsyncConnectorService/GetTask`,
    ]);
    assert.deepEqual(JSON.parse(stdout), { resource: { phase: "SUCCEEDED", message: "done c" } });
    const h2 = await promisify(execFile)("curl", ["-sS", "--http2-prior-knowledge", "-w", "%{http_code} %{http_version}", `http://127.0.0.1:${port()}/healthz`]);
    assert.equal(h2.stdout, "OK200 2");
    // A 6 MiB JSON CreateTask (curl sends `Expect: 100-continue` for a body this size).
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const dir = mkdtempSync(path.join(os.tmpdir(), "fc-curl-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, "create.json");
    writeFileSync(file, JSON.stringify({ template: { type: "test", id: { name: "t" } }, inputs: { literals: [{ name: "a", value: { scalar: { primitive: { stringValue: "c".repeat(6 * 1024 * 1024) } } } }] } }));
    const big = await promisify(execFile)("curl", ["-sS", "-H", "content-type: application/json", "--data-binary", `@${file}`, `http://127.0.0.1:${port()}/flyteidl2.connector.AsyncConnectorService/CreateTask`]);
    const meta = JSON.parse(Buffer.from((JSON.parse(big.stdout) as { resourceMeta: string }).resourceMeta, "base64").toString()) as { id: string };
    assert.equal(meta.id, `job-${observed.lastCreateInputSize}`);
    assert.ok(observed.lastCreateInputSize > 6 * 1024 * 1024);
  });

  function port(): number {
    return service.connectPort!;
  }
});

describe("Connect port: metrics and logs", () => {
  test("the same calls on the gRPC and the Connect port give identical metrics series", async () => {
    const calls = async (unary: (method: string, request: unknown) => Promise<unknown>) => {
      await unary("createTask", createRequest({}));
      await unary("getTask", getRequest("m"));
      await unary("deleteTask", getRequest("m"));
      await unary("getTask", getRequest("m", 0, "nope")).catch(() => {});
      await unary("createTask", createRequest({ mode: "invalid" })).catch(() => {});
    };
    const viaGrpc = await start();
    const viaConnect = await start();
    const gc = testClient(viaGrpc.port);
    try {
      await calls((method, request) => gc.unary(A[method as "getTask"] as never, request as never));
      const cc = createClient(AsyncConnectorService, createConnectTransport({ baseUrl: `http://127.0.0.1:${viaConnect.connectPort}`, httpVersion: "1.1" }));
      await calls((method, request) => (cc[method as "getTask"] as (r: unknown) => Promise<unknown>)(request));
      const a = connectorSeries(await metricsText(viaGrpc));
      const b = connectorSeries(await metricsText(viaConnect));
      assert.ok(a.some((l) => l.includes('operation="create"')) && a.some((l) => l.includes('error_code="404"')));
      assert.deepEqual(b, a);
    } finally {
      gc.close();
      await viaGrpc.forceClose();
      await viaConnect.forceClose();
    }
  });

  test("log lines name the protocol", async () => {
    const lines: string[] = [];
    const { pino } = await import("pino");
    const { Writable } = await import("node:stream");
    const logger = pino({ level: "info" }, new Writable({ write: (c, _e, cb) => (lines.push(...String(c).split("\n").filter(Boolean)), cb()) }));
    const service = await start({ logger });
    try {
      const cc = createClient(AsyncConnectorService, createConnectTransport({ baseUrl: `http://127.0.0.1:${service.connectPort}`, httpVersion: "1.1" }));
      await cc.getTask(getRequest("l"));
      const gc = testClient(service.port);
      await gc.unary(A.getTask, getRequest("l"));
      gc.close();
      const requests = lines.map((l) => JSON.parse(l) as { msg: string; protocol?: string }).filter((l) => l.msg === "request");
      assert.deepEqual(requests.map((l) => l.protocol).sort(), ["connect", "grpc"]);
    } finally {
      await service.forceClose();
    }
  });
});

describe("Connect port: health and drain", () => {
  test("/healthz and /health: 503 while loading, 200 while serving, 503 while draining", async () => {
    const free = await freePort();
    const loading = spawn(process.execPath, [bin, "serve", "--port", "0", "--prometheus-port", "0", "--connect-port", String(free), "--host", "127.0.0.1", "--no-discover", "--modules", slowLoad, "--modules", fixture, "--grace-period", "10"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    loading.stderr!.on("data", (d) => (stderr += String(d)));
    try {
      let sawLoading = false;
      for (let i = 0; i < 200 && !/serving gRPC/.test(stderr); i++) {
        const res = await get(free, "/healthz").catch(() => undefined);
        if (res?.status === 503) sawLoading = true;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(sawLoading, "503 while the connectors load");
      assert.deepEqual(await get(free, "/healthz"), { status: 200, body: "OK" });
      assert.deepEqual(await get(free, "/health"), { status: 200, body: "OK" });

      // A call in flight on the Connect port (HTTP/1.1 keep-alive), then SIGTERM: it completes, health is 503.
      const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${free}`, httpVersion: "1.1" });
      const client = createClient(AsyncConnectorService, transport);
      const slow = client.getTask(getRequest("slow", 1500));
      const h2 = createClient(AsyncConnectorService, createConnectTransport({ baseUrl: `http://127.0.0.1:${free}`, httpVersion: "2" }));
      const slowH2 = h2.getTask(getRequest("slow2", 1500));
      await new Promise((r) => setTimeout(r, 300));
      const exited = once(loading, "exit");
      loading.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      const during = await get(free, "/healthz").catch((error: Error) => ({ status: -1, body: error.message }));
      // The listener is closed while draining: a new connection is refused (or, if it raced in, told 503).
      assert.ok(during.status === -1 || during.status === 503, `draining: ${JSON.stringify(during)}`);
      assert.equal((await slow).resource?.message, "done slow");
      assert.equal((await slowH2).resource?.message, "done slow2");
      const [code] = await exited;
      assert.equal(code, 0, stderr);
    } finally {
      loading.kill("SIGKILL");
    }
  });

  test("healthz answers 503 on an open keep-alive connection while draining", async () => {
    const service = await start({ gracePeriodMs: 5000 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ask = () =>
      new Promise<number>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port: service.connectPort, path: "/healthz", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        }).on("error", reject);
      });
    try {
      assert.equal(await ask(), 200);
      // Keep a call in flight so the drain lasts, then ask on the same (already open) connection.
      const cc = createClient(AsyncConnectorService, createConnectTransport({ baseUrl: `http://127.0.0.1:${service.connectPort}`, httpVersion: "1.1" }));
      const slow = cc.getTask(getRequest("s", 800));
      await new Promise((r) => setTimeout(r, 100));
      const closing = service.close();
      const status = await ask().catch(() => -1);
      // Either the idle connection was closed by the drain (-1: the client must reconnect, and cannot) or it answered 503.
      assert.ok(status === 503 || status === -1, `status while draining: ${status}`);
      assert.equal((await slow).resource?.message, "done s");
      await closing;
    } finally {
      agent.destroy();
      await service.forceClose();
    }
  });

  test("with TLS: Connect over HTTPS, HTTP/1.1 and HTTP/2 (ALPN), on the Connect port", async (t) => {
    const material = selfSignedCertificate(t);
    if (!material) return;
    const { cert, key } = material;
    const service = await start({ tls: { cert, key: key } });
    try {
      for (const httpVersion of ["1.1", "2"] as const) {
        const transport = createConnectTransport({ baseUrl: `https://127.0.0.1:${service.connectPort}`, httpVersion, nodeOptions: { ca: cert } });
        const got = await createClient(AsyncConnectorService, transport).getTask(getRequest("tls"));
        assert.equal(got.resource?.message, "done tls", httpVersion);
      }
    } finally {
      await service.forceClose();
    }
  });

  test("--connect-port 0 turns the port off; --connect_port is an alias", async () => {
    const off = await spawnService(["serve", "--port", "0", "--prometheus-port", "0", "--connect-port", "0", "--host", "127.0.0.1", "--no-discover"]);
    try {
      assert.doesNotMatch(off.stderr(), /Connect on/);
    } finally {
      await off.stop();
    }
    const free = await freePort();
    const on = await spawnService(["serve", "--port", "0", "--prometheus-port", "0", "--connect_port", String(free), "--host", "127.0.0.1", "--no-discover"]);
    try {
      assert.match(on.stderr(), new RegExp(`Connect on :${free} \\(HTTP/1\\.1, h2c\\)`));
      assert.equal((await get(free, "/healthz")).status, 200);
    } finally {
      await on.stop();
    }
  });
});

describe("ConnectServer", () => {
  test("a connection that sends nothing is closed after firstBytesTimeoutMs (and reported); one that speaks is served", async () => {
    const { ConnectServer } = await import("./connect.js");
    const net = await import("node:net");
    const events: string[] = [];
    const server = new ConnectServer({ maxReceiveMessageBytes: 1024, firstBytesTimeoutMs: 200, onEvent: (e) => events.push(e.event) });
    const port = await server.listen(0, "127.0.0.1");
    try {
      const silent = net.connect(port, "127.0.0.1");
      silent.on("error", () => {});
      const t0 = performance.now();
      await once(silent, "close");
      assert.ok(performance.now() - t0 < 5000);
      assert.deepEqual(events, ["handshake_timeout"]);
      assert.deepEqual(await get(port, "/healthz"), { status: 200, body: "OK" });
    } finally {
      server.destroy();
    }
  });
});

describe("ConnectServer: compressed requests", () => {
  test("a gzip bomb inflates off the event loop: other work keeps running while it inflates", async () => {
    const { ConnectServer } = await import("./connect.js");
    const MiB = 1024 * 1024;
    const server = new ConnectServer({ maxReceiveMessageBytes: 256 * MiB });
    server.add({
      path: "/t.T/Size",
      kind: "unary",
      decode: (bytes) => bytes,
      encode: (message) => message as Uint8Array,
      handler: (call) => call.respond(Buffer.from(String((call.request as Uint8Array).byteLength))),
    });
    const port = await server.listen(0, "127.0.0.1");
    try {
      const bomb = zlib.gzipSync(Buffer.alloc(256 * MiB), { level: 9 }); // ~256 KB on the wire
      // The longest the event loop went without running this 5 ms timer while the request was in flight: inflating
      // synchronously blocks it for the whole inflation; on zlib's thread pool only for small pieces.
      let last = performance.now();
      let longestGap = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 5);
      const t0 = performance.now();
      const answer = await post(port, "/t.T/Size", bomb, { "content-type": "application/proto", "content-encoding": "gzip" });
      const total = performance.now() - t0;
      clearInterval(ticker);
      assert.equal(answer.status, 200, answer.body.toString());
      assert.equal(answer.body.toString(), String(256 * MiB));
      assert.ok(longestGap < total / 2, `event loop blocked ${Math.round(longestGap)} ms of the ${Math.round(total)} ms the request took`);
    } finally {
      server.destroy();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

