// serveForTest's Connect client: calls really go over the Connect port, and a test reads the same thing from it as
// from the grpc-js client (code, details, message; deadlines; cancel; metadata; the logs stream).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { TestConnector, observed } from "./fixture-connectors.js";
import { serveForTest, testProtocol, TEST_PROTOCOL_ENV, type TestService } from "./index.js";

const A = AsyncConnectorService.method;

const createRequest = (custom: Record<string, string | number>) => ({
  template: { type: "test", custom, id: { name: "t" } },
  outputPrefix: "s3://bucket/shard/run/action/1",
  connection: { secrets: { token: "s3cr3t-T0KEN" } },
});
const meta = (id: string, ms = 0) => new TextEncoder().encode(JSON.stringify({ id, ms }));

async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error as grpc.ServiceError,
  );
  assert.ok(outcome, "expected the call to fail");
  return outcome;
}

const logLines: Record<string, unknown>[] = [];
const logger = pino({ level: "info" }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(JSON.parse(String(chunk)) as Record<string, unknown>), done()) }));

let grpcService: TestService;
let connectService: TestService;

before(async () => {
  grpcService = await serveForTest([new TestConnector()], { protocol: "grpc", logger });
  connectService = await serveForTest([new TestConnector()], { protocol: "connect", logger });
});

after(async () => {
  await grpcService.close();
  await connectService.close();
});

describe("serveForTest over Connect", () => {
  test("calls arrive on the Connect port, with the grpc-js metadata as headers", async () => {
    assert.equal(grpcService.handle.connectPort !== undefined, true, "port 0 opens a Connect port in any case");
    for (const [service, protocol] of [
      [grpcService, "grpc"],
      [connectService, "connect"],
    ] as const) {
      const metadata = new grpc.Metadata();
      metadata.set("x-request-id", `req-${protocol}`);
      await service.client.unary(A.createTask, createRequest({ ms: 0 }), { metadata });
      const line = logLines.find((l) => l["reqId"] === `req-${protocol}`);
      assert.ok(line, `the call with x-request-id req-${protocol} was logged`);
      assert.equal(line["protocol"], protocol);
    }
  });

  test("a failed call reads as on grpc-js: numeric code, the server's message as details, grpc-js's message format", async () => {
    const cases = [
      [A.createTask, createRequest({ mode: "invalid" })],
      [A.createTask, createRequest({ mode: "internal" })],
      [A.getTask, { taskCategory: { name: "nope", version: 0 }, resourceMeta: meta("x") }],
      [A.getTask, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode("not json") }],
    ] as const;
    for (const [method, request] of cases) {
      const viaGrpc = await failure(grpcService.client.unary(method as typeof A.createTask, request as never));
      const viaConnect = await failure(connectService.client.unary(method as typeof A.createTask, request as never));
      assert.notEqual(viaGrpc.code, grpc.status.OK);
      assert.equal(viaConnect.code, viaGrpc.code, `${viaConnect.message} vs ${viaGrpc.message}`);
      // The internal error's details carry a per-process request id; compare everything else.
      const masked = (s: string) => s.replace(/request id [^)]+/, "request id …");
      assert.equal(masked(viaConnect.details), masked(viaGrpc.details));
      assert.equal(masked(viaConnect.message), masked(viaGrpc.message));
      assert.ok(viaConnect.metadata instanceof grpc.Metadata);
      assert.ok(!JSON.stringify(viaConnect.metadata.getMap()).includes("s3cr3t-T0KEN"));
    }
  });

  test("deadline → connect-timeout-ms: DEADLINE_EXCEEDED and the handler's signal fires; a deadline already past fails too", async () => {
    const before = observed.abortReasons.length;
    const error = await failure(connectService.client.unary(A.createTask, createRequest({ mode: "wait" }), { deadline: Date.now() + 300 }));
    assert.equal(error.code, grpc.status.DEADLINE_EXCEEDED, error.message);
    for (let i = 0; i < 100 && observed.abortReasons.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(observed.abortReasons.length > before, "the connector's signal aborted");

    const past = await failure(connectService.client.unary(A.getTask, { taskCategory: { name: "test", version: 0 }, resourceMeta: meta("late", 5000) }, { deadline: new Date(Date.now() - 1000) }));
    assert.equal(past.code, grpc.status.DEADLINE_EXCEEDED, past.message);
  });

  test("start(...).call.cancel() → CANCELLED and the handler's signal aborts", async () => {
    const before = observed.abortReasons.length;
    const { call, result } = connectService.client.start(A.createTask, createRequest({ mode: "wait" }));
    await new Promise((r) => setTimeout(r, 100));
    call.cancel();
    const error = await failure(result);
    assert.equal(error.code, grpc.status.CANCELLED, error.message);
    // Calls of the test before may still be aborting (their server-side deadline): look for this call's AbortError.
    const cancelled = () => observed.abortReasons.slice(before).some((reason) => (reason as { name?: string }).name === "AbortError");
    for (let i = 0; i < 100 && !cancelled(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cancelled(), `the connector's signal aborted with AbortError (${observed.abortReasons.slice(before).map((r) => (r as { name?: string }).name).join(", ")})`);
  });

  test("stream: GetTaskLogs pages as on grpc-js", async () => {
    const request = { taskCategory: { name: "test", version: 0 }, resourceMeta: meta("logs") };
    const viaGrpc = await grpcService.client.stream(A.getTaskLogs, request);
    const viaConnect = await connectService.client.stream(A.getTaskLogs, request);
    assert.ok(viaGrpc.length > 0);
    assert.deepEqual(
      viaConnect.map((p) => p.part),
      viaGrpc.map((p) => p.part),
    );
  });

  test("call options the Connect client cannot honour are refused, not dropped", () => {
    assert.throws(() => connectService.client.unary(A.createTask, createRequest({}), { host: "elsewhere" }), /does not support the call options host/);
  });

  test(`${TEST_PROTOCOL_ENV} picks the protocol: grpc by default, connect, grpc-go, anything else refused`, () => {
    const saved = process.env[TEST_PROTOCOL_ENV];
    try {
      delete process.env[TEST_PROTOCOL_ENV];
      assert.equal(testProtocol(), "grpc");
      process.env[TEST_PROTOCOL_ENV] = "connect";
      assert.equal(testProtocol(), "connect");
      process.env[TEST_PROTOCOL_ENV] = "grpc-go";
      assert.equal(testProtocol(), "grpc-go");
      process.env[TEST_PROTOCOL_ENV] = "http";
      assert.throws(() => testProtocol(), /FLYTE_CONNECTOR_TEST_PROTOCOL=http: expected grpc, connect or grpc-go/);
    } finally {
      if (saved === undefined) delete process.env[TEST_PROTOCOL_ENV];
      else process.env[TEST_PROTOCOL_ENV] = saved;
    }
  });
});
