// The service driven by the real grpc-go client (the client FlytePropeller's connector plugin uses), dialed as
// propeller dials: insecure, `dns:///` target, round_robin, keepalive (Time 10 s, PermitWithoutStream false).
// The Go program (../interop/client) sends raw request bytes encoded here with protobuf-es and returns the raw
// response bytes, so no generated flyteidl2 Go code is needed. Skipped when `go` or the grpc-go sources
// (Debian: golang-google-grpc-dev, in /usr/share/gocode) are absent, except under CI=true where that fails; the
// binary is cached in node_modules/.cache.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectorRegistry, decodeOutputs, encodeInputs, types, variableMap } from "flyte-connectors";
import {
  CreateTaskRequestSchema,
  CreateTaskResponseSchema,
  DeleteTaskRequestSchema,
  GetTaskLogsRequestSchema,
  GetTaskMetricsRequestSchema,
  GetTaskLogsResponseSchema,
  GetTaskRequestSchema,
  GetTaskResponseSchema,
  ListConnectorsRequestSchema,
  ListConnectorsResponseSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { TaskExecution_Phase } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";
import { startConnectorService, type ConnectorServiceHandle } from "./service.js";
import { TestConnector, observed } from "./testing/fixture-connectors.js";
import { frameSpy } from "./testing/frame-spy.js";
import { testTransport } from "./testing/transport.js";
import { buildGoClient } from "./testing/go-build.js";

const ASYNC = "/flyteidl2.connector.AsyncConnectorService";
const META = "/flyteidl2.connector.ConnectorMetadataService";
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

const Code = { OK: 0, CANCELLED: 1, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, UNAVAILABLE: 14 } as const;

interface GoCall {
  method: string;
  request?: Uint8Array;
  timeoutMs?: number;
  stream?: boolean;
  sleepBeforeMs?: number;
  parallel?: number;
}
interface GoResult {
  code: number;
  message: string;
  responses: string[];
  ms: number;
  all?: GoResult[];
}
interface GoRun {
  results: GoResult[];
  /** The channel's connectivity states, in order. */
  states: string[];
  /** grpc-go's own log lines (GOAWAY, transport errors). */
  logs: string[];
}

/** Runs the Go client against `port` (async: the service runs on this event loop). */
function runGo(binary: string, port: number, calls: GoCall[], keepaliveSec = 10): Promise<GoRun> {
  const input = {
    target: `dns:///127.0.0.1:${port}`,
    keepaliveSec,
    calls: calls.map((c) => ({ ...c, request: Buffer.from(c.request ?? new Uint8Array()).toString("base64"), timeoutMs: c.timeoutMs ?? 10_000 })),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`go client exited ${code}: ${Buffer.concat(err).toString()}`));
      resolve(JSON.parse(Buffer.concat(out).toString()) as GoRun);
    });
    child.stdin.end(JSON.stringify(input));
  });
}

function bytes<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

function decode<D extends DescMessage>(schema: D, result: GoResult, index = 0) {
  assert.equal(result.code, Code.OK, `expected OK, got code ${result.code}: ${result.message}`);
  return fromBinary(schema, Buffer.from(result.responses[index]!, "base64"));
}

/** grpc.health.v1.HealthCheckRequest{service}: field 1, length-delimited. */
function healthRequest(service: string): Uint8Array {
  const name = Buffer.from(service);
  return name.length === 0 ? new Uint8Array() : Uint8Array.from([0x0a, name.length, ...name]);
}


const echoTypes = { n: types.int, s: types.string, f: types.float, b: types.boolean, l: types.list(types.string), m: types.map(types.int) };
const echoValues = { n: 42, s: "héllo, grpc-go", f: 2.5, b: true, l: ["a", "b"], m: { x: 1, y: -2 } };

describe("connector service through the real grpc-go client", { concurrency: true }, () => {
  const built = buildGoClient();
  let service: ConnectorServiceHandle;
  const go = (t: TestContext, calls: GoCall[], port?: number, keepaliveSec?: number): Promise<GoRun> | undefined => {
    if ("missing" in built) {
      // CI installs Go and grpc-go (.ci/run): there a missing toolchain is a failure, not a skip.
      if (process.env["CI"] === "true") assert.fail(`CI=true: ${built.missing}`);
      t.skip(built.missing);
      return undefined;
    }
    if ("error" in built) assert.fail(built.error);
    return runGo(built.binary, port ?? service.port, calls, keepaliveSec);
  };

  before(async () => {
    if (!("binary" in built)) return;
    const registry = new ConnectorRegistry().register(new TestConnector());
    service = await startConnectorService({ transport: testTransport(), port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, registry, logLevel: "silent" });
  });
  after(async () => {
    await service?.forceClose();
  });

  test("health Check is SERVING; ListConnectors lists echo and sleep", async (t) => {
    const run = await go(t, [
      { method: HEALTH_CHECK, request: healthRequest("") },
      { method: HEALTH_CHECK, request: healthRequest("flyteidl2.connector.AsyncConnectorService") },
      { method: `${META}/ListConnectors`, request: bytes(ListConnectorsRequestSchema, {}) },
      { method: `${ASYNC}/NoSuchMethod` },
    ]);
    if (!run) return;
    const [health, healthAsync, list, unknown] = run.results;
    assert.equal(health!.code, Code.OK, health!.message);
    assert.deepEqual([...Buffer.from(health!.responses[0]!, "base64")], [0x08, 0x01], "status SERVING (1)");
    assert.deepEqual([...Buffer.from(healthAsync!.responses[0]!, "base64")], [0x08, 0x01]);
    const connectors = decode(ListConnectorsResponseSchema, list!).connectors;
    const byName = new Map(connectors.map((c) => [c.name, c.supportedTaskCategories.map((tc) => tc.name)]));
    assert.deepEqual(byName.get("Echo Connector"), ["echo"]);
    assert.deepEqual(byName.get("Sleep Connector"), ["sleep"]);
    assert.equal(unknown!.code, Code.UNIMPLEMENTED, unknown!.message);
    assert.deepEqual(run.states.slice(-1), ["READY"]);
  });

  test("echo: CreateTask with typed inputs → GetTask SUCCEEDED with outputs = inputs → DeleteTask OK; GetTaskLogs streams", async (t) => {
    const vm = variableMap(echoTypes);
    const inputs = await encodeInputs(echoValues, echoTypes);
    const createReq = bytes(CreateTaskRequestSchema, { template: { type: "echo", id: { name: "e" }, interface: { inputs: vm } }, inputs, outputPrefix: "s3://bucket/prefix" });
    const first = await go(t, [{ method: `${ASYNC}/CreateTask`, request: createReq }]);
    if (!first) return;
    const { resourceMeta } = decode(CreateTaskResponseSchema, first.results[0]!);
    assert.ok(resourceMeta.length > 0);
    const category = { name: "echo", version: 0 };
    const run = (await go(t, [
      { method: `${ASYNC}/GetTask`, request: bytes(GetTaskRequestSchema, { taskCategory: category, resourceMeta, outputPrefix: "s3://bucket/prefix" }) },
      { method: `${ASYNC}/DeleteTask`, request: bytes(DeleteTaskRequestSchema, { taskCategory: category, resourceMeta }) },
      { method: `${ASYNC}/GetTaskLogs`, stream: true, request: bytes(GetTaskLogsRequestSchema, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode('{"id":"j","ms":0}') }) },
    ]))!;
    const [get, del, logs] = run.results;
    const resource = decode(GetTaskResponseSchema, get!).resource;
    assert.equal(resource?.phase, TaskExecution_Phase.SUCCEEDED);
    assert.deepEqual(await decodeOutputs(resource?.outputs, echoTypes), echoValues);
    assert.equal(del!.code, Code.OK, del!.message);
    assert.equal(logs!.code, Code.OK, logs!.message);
    const parts = logs!.responses.map((r) => fromBinary(GetTaskLogsResponseSchema, Buffer.from(r, "base64")).part);
    assert.deepEqual(parts.map((p) => p.case), ["header", "body"]);
    assert.deepEqual(parts[1]?.case === "body" && parts[1].value.lines.map((l) => l.message), ["line 1", "line 2"]);
  });

  test("a CreateTask over 4 MiB is accepted", async (t) => {
    const big = "b".repeat(5 * 1024 * 1024);
    const request = bytes(CreateTaskRequestSchema, {
      template: { type: "test", id: { name: "big" } },
      inputs: { literals: [{ name: "blob", value: { value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "stringValue", value: big } } } } } } }] },
      outputPrefix: "s3://bucket/prefix",
    });
    assert.ok(request.length > 5 * 1024 * 1024);
    const run = await go(t, [{ method: `${ASYNC}/CreateTask`, request }]);
    if (!run) return;
    assert.ok(decode(CreateTaskResponseSchema, run.results[0]!).resourceMeta.length > 0);
    assert.ok(observed.lastCreateInputSize > 5 * 1024 * 1024);
  });

  test("errors: NOT_FOUND for an unknown task type, INVALID_ARGUMENT for malformed meta, DeleteTask OK for undecodable meta", async (t) => {
    const junk = new Uint8Array([0xff, 0x00, 0x13]);
    const run = await go(t, [
      { method: `${ASYNC}/CreateTask`, request: bytes(CreateTaskRequestSchema, { template: { type: "no-such-type", id: { name: "x" } }, outputPrefix: "s3://b/p" }) },
      { method: `${ASYNC}/GetTask`, request: bytes(GetTaskRequestSchema, { taskCategory: { name: "no-such-type", version: 0 }, resourceMeta: junk }) },
      { method: `${ASYNC}/GetTask`, request: bytes(GetTaskRequestSchema, { taskCategory: { name: "echo", version: 0 }, resourceMeta: junk }) },
      { method: `${ASYNC}/DeleteTask`, request: bytes(DeleteTaskRequestSchema, { taskCategory: { name: "echo", version: 0 }, resourceMeta: junk }) },
      { method: `${ASYNC}/GetTaskMetrics`, request: bytes(GetTaskMetricsRequestSchema, { taskCategory: { name: "echo", version: 0 }, resourceMeta: junk }) },
    ]);
    if (!run) return;
    const [createUnknown, getUnknown, getMalformed, deleteJunk, metricsEcho] = run.results;
    assert.equal(createUnknown!.code, Code.NOT_FOUND, createUnknown!.message);
    assert.match(createUnknown!.message, /^Cannot find connector for task type: no-such-type\. Asked for version 0; this service serves: .*\becho v0\b/);
    assert.equal(getUnknown!.code, Code.NOT_FOUND, getUnknown!.message);
    assert.match(getUnknown!.message, /^Cannot find connector for task type: no-such-type\. Asked for version 0; /);
    assert.equal(getMalformed!.code, Code.INVALID_ARGUMENT, getMalformed!.message);
    assert.equal(deleteJunk!.code, Code.OK, deleteJunk!.message);
    assert.equal(metricsEcho!.code, Code.UNIMPLEMENTED, metricsEcho!.message);
  });

  test("deadline: a connector that waits on its signal ends DEADLINE_EXCEEDED in time", async (t) => {
    const before = observed.abortReasons.length;
    const run = await go(t, [
      { method: `${ASYNC}/CreateTask`, request: bytes(CreateTaskRequestSchema, { template: { type: "test", custom: { mode: "wait" }, id: { name: "w" } }, outputPrefix: "s3://b/p" }), timeoutMs: 300 },
      // GetTask that takes 5 s against a 200 ms deadline, twice at once.
      { method: `${ASYNC}/GetTask`, request: bytes(GetTaskRequestSchema, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode('{"id":"j","ms":5000}') }), timeoutMs: 200, parallel: 2 },
    ]);
    if (!run) return;
    const [wait, get] = run.results;
    assert.equal(wait!.code, Code.DEADLINE_EXCEEDED, wait!.message);
    assert.ok(wait!.ms < 1500, `ended after ${wait!.ms} ms`);
    for (const r of get!.all!) {
      assert.equal(r.code, Code.DEADLINE_EXCEEDED, r.message);
      assert.ok(r.ms < 1500, `ended after ${r.ms} ms`);
    }
    for (let i = 0; i < 50 && observed.abortReasons.length < before + 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(observed.abortReasons.length >= before + 3, "every connector call's signal fired");
  });

  test("graceful shutdown: GOAWAY lets the call in flight finish, later calls fail UNAVAILABLE", async (t) => {
    if (!("binary" in built)) return void go(t, []);
    const other = await startConnectorService({ transport: testTransport(), port: 0, prometheusPort: 0, host: "127.0.0.1", discover: false, registry: new ConnectorRegistry().register(new TestConnector()), logLevel: "silent" });
    const spy = await frameSpy(other.port);
    const port = spy.port;
    try {
      const running = go(t, [
        { method: HEALTH_CHECK, request: healthRequest("") },
        { method: `${ASYNC}/GetTask`, request: bytes(GetTaskRequestSchema, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode('{"id":"drain","ms":1500}') }) },
        { method: HEALTH_CHECK, request: healthRequest(""), timeoutMs: 1000 },
      ], port)!;
      await new Promise((r) => setTimeout(r, 700));
      const closed = other.close({ gracePeriodMs: 5000 });
      const run = await running;
      await closed;
      const [health, inFlight, after] = run.results;
      assert.equal(health!.code, Code.OK, health!.message);
      assert.equal(inFlight!.code, Code.OK, `in-flight call: ${inFlight!.code} ${inFlight!.message}`);
      assert.equal(decode(GetTaskResponseSchema, inFlight!).resource?.phase, TaskExecution_Phase.SUCCEEDED);
      assert.ok(spy.seen.goaways.some((g) => g.from === "server" && g.code === 0), `server sent GOAWAY NO_ERROR (${JSON.stringify(spy.seen.goaways)})`);
      // The listener is closed: the next call finds no backend (grpc-go: UNAVAILABLE, or DEADLINE_EXCEEDED while reconnecting).
      assert.ok(after!.code === Code.UNAVAILABLE || after!.code === Code.DEADLINE_EXCEEDED, `after close: ${after!.code} ${after!.message}`);
    } finally {
      spy.close();
      await other.forceClose();
    }
  });

  test("a call longer than the keepalive time completes; pings are answered, no GOAWAY too_many_pings", async (t) => {
    const spy = "binary" in built ? await frameSpy(service?.port ?? 0) : undefined;
    try {
      const run = await go(
        t,
        [
          { method: `${ASYNC}/GetTask`, request: bytes(GetTaskRequestSchema, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode('{"id":"long","ms":12500}') }), timeoutMs: 30_000 },
          { method: HEALTH_CHECK, request: healthRequest("") },
        ],
        spy?.port ?? 0,
        10,
      );
      if (!run || !spy) return;
      const [long, health] = run.results;
      assert.equal(long!.code, Code.OK, long!.message);
      assert.ok(long!.ms >= 12_000, `took ${long!.ms} ms`);
      assert.equal(decode(GetTaskResponseSchema, long!).resource?.phase, TaskExecution_Phase.SUCCEEDED);
      assert.equal(health!.code, Code.OK, health!.message);
      // Both sides keep the connection alive every 10 s: grpc-go pings only when it has read nothing for its
      // keepalive time, and the server's own keepalive PINGs count as activity — so either may carry the 12.5 s call.
      assert.ok(spy.seen.keepalivePings.length >= 1 || spy.seen.serverPings >= 1, `keepalive PINGs during the call (${JSON.stringify(spy.seen)})`);
      assert.ok(spy.seen.serverPingAcks >= spy.seen.clientPings, `every PING acked (${spy.seen.serverPingAcks}/${spy.seen.clientPings})`);
      assert.deepEqual(spy.seen.goaways, [], "no GOAWAY");
      // The client's first state (IDLE) may pass before its watcher starts on a loaded machine: what matters is one
      // connect, then READY to the end (a dropped connection would add IDLE/TRANSIENT_FAILURE after READY).
      const states = run.states[0] === "IDLE" ? run.states.slice(1) : run.states;
      assert.deepEqual(states, ["CONNECTING", "READY"], `one connection, never dropped (${run.states.join(" → ")})`);
      assert.ok(!run.logs.some((l) => /too_many_pings|GoAway|ENHANCE_YOUR_CALM/i.test(l)), run.logs.join("\n"));
    } finally {
      spy?.close();
    }
  });
});
