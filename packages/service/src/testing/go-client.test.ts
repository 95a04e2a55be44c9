// serveForTest's grpc-go client: calls really leave through grpc-go (its user agent, grpc-timeout, metadata, dns:///
// target), and a test reads the same thing from it as from the grpc-js client (code, details, message; deadlines;
// cancel; the logs stream). Without Go and grpc-go: skipped with the reason outside CI, a failure under CI=true.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { LiteralMapSchema } from "@flyte-connectors/flyteidl/flyteidl/core/literals_pb.js";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { Phase, SyncConnector, type CreateRequest, type Resource } from "flyte-connectors";
import { flyte2Outputs } from "./flyte1.js";
import { TestConnector, observed } from "./fixture-connectors.js";
import { buildGoClient } from "./go-build.js";
import { goTestClient } from "./go-client.js";
import { flyte1Client, serveForTest, type Flyte1Client, type TestService } from "./index.js";

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

const built = buildGoClient();
const missing = "binary" in built ? undefined : "missing" in built ? built.missing : built.error;
// A failed build is a defect anywhere; a missing toolchain only under CI=true (CI installs it, see .ci/run).
if (missing && ("error" in built || process.env["CI"] === "true")) test("the grpc-go client builds (Go and grpc-go installed)", () => assert.fail(missing));

describe("serveForTest over grpc-go", { skip: missing }, () => {
  let grpcService: TestService;
  let goService: TestService;

  before(async () => {
    grpcService = await serveForTest([new TestConnector()], { protocol: "grpc" });
    goService = await serveForTest([new TestConnector()], { protocol: "grpc-go" });
  });

  after(async () => {
    await grpcService?.close();
    await goService?.close();
  });

  test("calls leave through grpc-go: its user agent, the deadline as grpc-timeout, text and binary metadata", async () => {
    // A bare HTTP/2 server that records what arrives and answers every call with a status, no message.
    const seen: http2.IncomingHttpHeaders[] = [];
    const server = http2.createServer();
    server.on("stream", (stream, headers) => {
      seen.push(headers);
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "5", "grpc-message": "not here", "x-trailer-bin": Buffer.from([0, 255]).toString("base64") }));
      stream.resume();
      stream.on("end", () => stream.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = goTestClient((server.address() as AddressInfo).port);
    try {
      const metadata = new grpc.Metadata();
      metadata.set("x-request-id", "req-go");
      metadata.set("x-blob-bin", Buffer.from([1, 2, 0, 254]));
      const error = await failure(client.unary(A.getTask, { resourceMeta: meta("x") }, { metadata, deadline: Date.now() + 5000 }));
      assert.equal(error.code, grpc.status.NOT_FOUND, error.message);
      assert.equal(error.details, "not here");
      assert.equal(error.message, "5 NOT_FOUND: not here");
      assert.deepEqual(error.metadata.get("x-trailer-bin"), [Buffer.from([0, 255])]);
      const headers = seen[0]!;
      assert.match(String(headers["user-agent"]), /^grpc-go\//);
      assert.equal(headers[":path"], "/flyteidl2.connector.AsyncConnectorService/GetTask");
      assert.equal(headers["content-type"], "application/grpc");
      assert.equal(headers["x-request-id"], "req-go");
      assert.deepEqual(Buffer.from(String(headers["x-blob-bin"]), "base64"), Buffer.from([1, 2, 0, 254]));
      const timeout = /^(\d+)([HMSmun])$/.exec(String(headers["grpc-timeout"]));
      assert.ok(timeout, `grpc-timeout ${String(headers["grpc-timeout"])}`);
      const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[timeout[2] as "H"];
      const ms = Number(timeout[1]) * unitMs;
      assert.ok(ms > 3000 && ms <= 5000, `a 5 s deadline sent as ${ms} ms`);
    } finally {
      client.close();
      server.close();
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
      const viaGo = await failure(goService.client.unary(method as typeof A.createTask, request as never));
      assert.notEqual(viaGrpc.code, grpc.status.OK);
      assert.equal(viaGo.code, viaGrpc.code, `${viaGo.message} vs ${viaGrpc.message}`);
      // The internal error's details carry a per-process request id; compare everything else.
      const masked = (s: string) => s.replace(/request id [^)]+/, "request id …");
      assert.equal(masked(viaGo.details), masked(viaGrpc.details));
      assert.equal(masked(viaGo.message), masked(viaGrpc.message));
      assert.ok(viaGo.metadata instanceof grpc.Metadata);
      assert.ok(!JSON.stringify(viaGo.metadata.getMap()).includes("s3cr3t-T0KEN"));
    }
  });

  test("a successful call decodes as on grpc-js", async () => {
    const request = { taskCategory: { name: "test", version: 0 }, resourceMeta: meta("ok") };
    const viaGrpc = await grpcService.client.unary(A.getTask, request);
    const viaGo = await goService.client.unary(A.getTask, request);
    assert.equal(viaGo.resource?.message, "done ok");
    assert.deepEqual(viaGo, viaGrpc);
  });

  test("deadline → grpc-timeout: DEADLINE_EXCEEDED and the handler's signal fires; a deadline already past fails too", async () => {
    const before = observed.abortReasons.length;
    const error = await failure(goService.client.unary(A.createTask, createRequest({ mode: "wait" }), { deadline: Date.now() + 300 }));
    assert.equal(error.code, grpc.status.DEADLINE_EXCEEDED, error.message);
    for (let i = 0; i < 100 && observed.abortReasons.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(observed.abortReasons.length > before, "the connector's signal aborted");

    const past = await failure(goService.client.unary(A.getTask, { taskCategory: { name: "test", version: 0 }, resourceMeta: meta("late", 5000) }, { deadline: new Date(Date.now() - 1000) }));
    assert.equal(past.code, grpc.status.DEADLINE_EXCEEDED, past.message);
  });

  test("start(...).call.cancel() → CANCELLED and the handler's signal aborts", async () => {
    const before = observed.abortReasons.length;
    const { call, result } = goService.client.start(A.createTask, createRequest({ mode: "wait" }));
    await new Promise((r) => setTimeout(r, 100));
    call.cancel();
    const error = await failure(result);
    assert.equal(error.code, grpc.status.CANCELLED, error.message);
    for (let i = 0; i < 100 && observed.abortReasons.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(observed.abortReasons.length > before, "the connector's signal aborted");
  });

  test("calls run concurrently on one channel", async () => {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => goService.client.unary(A.getTask, { taskCategory: { name: "test", version: 0 }, resourceMeta: meta(`p${i}`, 500) })),
    );
    assert.deepEqual(
      results.map((r) => r.resource?.message),
      results.map((_, i) => `done p${i}`),
    );
    // Eight 500 ms calls one after another would take 4 s.
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });

  test("stream: GetTaskLogs pages as on grpc-js", async () => {
    const request = { taskCategory: { name: "test", version: 0 }, resourceMeta: meta("logs") };
    const viaGrpc = await grpcService.client.stream(A.getTaskLogs, request);
    const viaGo = await goService.client.stream(A.getTaskLogs, request);
    assert.ok(viaGrpc.length > 0);
    assert.deepEqual(
      viaGo.map((p) => p.part),
      viaGrpc.map((p) => p.part),
    );
  });

  test("call options the grpc-go client cannot honour are refused, not dropped", () => {
    assert.throws(() => goService.client.unary(A.createTask, createRequest({}), { host: "elsewhere" }), /does not support the call options host/);
  });
});

test("without grpc-go: each call of serveForTest's and flyte1Client's clients fails naming the package (cleanup still runs)", async () => {
  const saved = process.env["GRPC_GO_GOPATH"];
  process.env["GRPC_GO_GOPATH"] = "/nonexistent-gopath";
  try {
    const service = await serveForTest([new TestConnector()], { protocol: "grpc-go" });
    try {
      const missingGo = /the grpc-go test client needs Go and grpc-go: grpc-go sources not installed: .*golang-google-grpc-dev/;
      await assert.rejects(service.client.unary(A.getTask, { resourceMeta: meta("x") }), missingGo);
      await assert.rejects(service.client.stream(A.getTaskLogs, { resourceMeta: meta("x") }), missingGo);
      const client = flyte1Client(service.handle.port, "127.0.0.1", "grpc-go");
      await assert.rejects(client.listAgents(), missingGo);
      client.close();
    } finally {
      await service.close();
    }
  } finally {
    if (saved === undefined) delete process.env["GRPC_GO_GOPATH"];
    else process.env["GRPC_GO_GOPATH"] = saved;
  }
});

class GreetConnector extends SyncConnector {
  readonly name = "Greeter";
  readonly taskTypeName = "greet";
  async do({ inputs }: CreateRequest): Promise<Resource> {
    return { phase: Phase.SUCCEEDED, outputs: { greeting: `hello ${String(inputs["name"])}` } };
  }
}

describe("flyte1Client over grpc-go", { skip: missing }, () => {
  let service: TestService;
  let viaGrpc: Flyte1Client;
  let viaGo: Flyte1Client;
  const template = (type: string, custom: Record<string, string | number> = {}) => ({ type, custom, id: { name: "t" } });

  before(async () => {
    service = await serveForTest([new TestConnector(), new GreetConnector()], { protocol: "grpc" });
    viaGrpc = flyte1Client(service.handle.port, "127.0.0.1", "grpc");
    viaGo = flyte1Client(service.handle.port, "127.0.0.1", "grpc-go");
  });

  after(async () => {
    viaGrpc?.close();
    viaGo?.close();
    await service?.close();
  });

  test("calls leave through grpc-go on Flyte 1's service paths", async () => {
    const seen: http2.IncomingHttpHeaders[] = [];
    const server = http2.createServer();
    server.on("stream", (stream, headers) => {
      seen.push(headers);
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "12", "grpc-message": "no agents here" }));
      stream.resume();
      stream.on("end", () => stream.end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = flyte1Client((server.address() as AddressInfo).port, "127.0.0.1", "grpc-go");
    try {
      const error = await failure(client.listAgents());
      assert.equal(error.code, grpc.status.UNIMPLEMENTED, error.message);
      assert.equal(error.details, "no agents here");
      assert.match(String(seen[0]?.["user-agent"]), /^grpc-go\//);
      assert.equal(seen[0]?.[":path"], "/flyteidl.service.AgentMetadataService/ListAgents");
    } finally {
      client.close();
      server.close();
    }
  });

  test("ListAgents, CreateTask → GetTask → DeleteTask and ExecuteTaskSync answer as on grpc-js", async () => {
    assert.deepEqual(await viaGo.listAgents(), await viaGrpc.listAgents());
    const created = await viaGo.createTask({ template: template("test", { ms: 0 }), outputPrefix: "s3://b/x/1" });
    assert.ok(created.resourceMeta.length > 0);
    const got = await viaGo.getTask("test", created.resourceMeta);
    assert.deepEqual(got, await viaGrpc.getTask("test", created.resourceMeta));
    assert.match(got.resource?.message ?? "", /^done job-/);
    await viaGo.deleteTask("test", created.resourceMeta);
    const inputs = create(LiteralMapSchema, {
      literals: { name: { value: { case: "scalar", value: { value: { case: "primitive", value: { value: { case: "stringValue", value: "Ada" } } } } } } },
    });
    const answers = await viaGo.executeTaskSync({ template: template("greet"), outputPrefix: "s3://b/sync/1" }, inputs);
    assert.deepEqual(answers, await viaGrpc.executeTaskSync({ template: template("greet"), outputPrefix: "s3://b/sync/1" }, inputs));
    const header = answers[0]?.res.case === "header" ? answers[0].res.value : undefined;
    const greeting = flyte2Outputs(header?.resource?.outputs).literals.find((l) => l.name === "greeting")?.value;
    assert.equal(greeting?.value.case === "scalar" && greeting.value.value.value.case === "primitive" ? greeting.value.value.value.value.value.value : undefined, "hello Ada");
  });

  test("errors and deadlines read as on grpc-js", async () => {
    const unknownViaGo = await failure(viaGo.getTask("nope", meta("x")));
    const unknownViaGrpc = await failure(viaGrpc.getTask("nope", meta("x")));
    assert.equal(unknownViaGo.code, unknownViaGrpc.code);
    assert.equal(unknownViaGo.details, unknownViaGrpc.details);
    assert.equal(unknownViaGo.message, unknownViaGrpc.message);
    const late = await failure(viaGo.getTask("test", meta("late", 5000), { deadline: Date.now() + 300 }));
    assert.equal(late.code, grpc.status.DEADLINE_EXCEEDED, late.message);
  });
});
