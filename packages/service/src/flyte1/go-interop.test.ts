// Flyte 1's agent services driven by grpc-go, the client Flyte 1's propeller uses, dialed as it dials (insecure,
// dns:/// target, round_robin). The Go program (../../interop/client) sends raw bytes encoded here with the
// protobuf-es classes of the official flyteidl v1 .proto sources — the bytes propeller's generated Go code sends.
// Skipped without Go and grpc-go (Debian golang-go, golang-google-grpc-dev); a failure under CI=true.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectorRegistry, Phase, SyncConnector, type CreateRequest, type Resource } from "flyte-connectors";
import { EchoConnector } from "flyte-connectors/builtin";
import {
  CreateTaskRequestSchema,
  CreateTaskResponseSchema,
  DeleteTaskRequestSchema,
  ExecuteTaskSyncRequestSchema,
  ExecuteTaskSyncResponseSchema,
  GetTaskLogsRequestSchema,
  GetTaskLogsResponseSchema,
  GetTaskRequestSchema,
  GetTaskResponseSchema,
  ListAgentsRequestSchema,
  ListAgentsResponseSchema,
} from "@flyte-connectors/flyteidl/flyteidl/admin/agent_pb.js";
import { LiteralMapSchema, type LiteralMap } from "@flyte-connectors/flyteidl/flyteidl/core/literals_pb.js";
import { TaskTemplateSchema, type TaskTemplate } from "@flyte-connectors/flyteidl/flyteidl/core/tasks_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl/flyteidl/core/types_pb.js";
import { AgentMetadataService, AsyncAgentService, SyncAgentService } from "@flyte-connectors/flyteidl/flyteidl/service/agent_pb.js";
import { startConnectorService, type ConnectorServiceHandle } from "../service.js";
import { TestConnector, observed } from "../testing/fixture-connectors.js";
import { testTransport } from "../testing/transport.js";
import { buildGoClient } from "../testing/go-build.js";
import { DEFAULT_TRANSPORT } from "../transport/index.js";

const ASYNC = "/flyteidl.service.AsyncAgentService";
const Code = { OK: 0, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, FAILED_PRECONDITION: 9 } as const;

interface GoCall {
  method: string;
  request?: Uint8Array;
  requests?: Uint8Array[];
  bidi?: boolean;
  closeSendFirst?: boolean;
  stream?: boolean;
  timeoutMs?: number;
}
interface GoResult {
  code: number;
  message: string;
  responses: string[];
}

const built = buildGoClient();
const missing = "binary" in built ? undefined : "missing" in built ? built.missing : built.error;
if (missing && process.env["CI"] === "true") test("Go and grpc-go are installed (required under CI)", () => assert.fail(missing));

/** Runs calls in order on one grpc-go channel (asynchronously: the service runs in this process). */
function goCalls(port: number, calls: GoCall[]): Promise<GoResult[]> {
  if (!("binary" in built)) throw new Error(missing);
  const input = JSON.stringify({
    target: `dns:///127.0.0.1:${port}`,
    calls: calls.map((c) => ({
      method: c.method,
      request: Buffer.from(c.request ?? new Uint8Array()).toString("base64"),
      requests: (c.requests ?? []).map((r) => Buffer.from(r).toString("base64")),
      bidi: c.bidi ?? false,
      closeSendFirst: c.closeSendFirst ?? false,
      stream: c.stream ?? false,
      timeoutMs: c.timeoutMs ?? 10_000,
    })),
  });
  return new Promise((resolve, reject) => {
    const child = spawn(built.binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`go client exited ${code}: ${Buffer.concat(err).toString()}`));
      resolve((JSON.parse(Buffer.concat(out).toString()) as { results: GoResult[] }).results);
    });
    child.stdin.end(input);
  });
}

const bytes = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) => toBinary(schema, create(schema, init));
const decode = <D extends DescMessage>(schema: D, result: GoResult, index = 0) => fromBinary(schema, Buffer.from(result.responses[index] ?? "", "base64"));

function template(type: string, inputs: Record<string, SimpleType>, custom: Record<string, string> = {}): TaskTemplate {
  return create(TaskTemplateSchema, {
    type,
    interface: { inputs: { variables: Object.fromEntries(Object.entries(inputs).map(([name, simple]) => [name, { type: { type: { case: "simple" as const, value: simple } } }])) } },
    // google.protobuf.Struct fields are plain JSON objects in protobuf-es.
    ...(Object.keys(custom).length ? { custom } : {}),
  });
}

function strings(values: Record<string, string>): LiteralMap {
  return create(LiteralMapSchema, {
    literals: Object.fromEntries(
      Object.entries(values).map(([name, value]) => [name, { value: { case: "scalar" as const, value: { value: { case: "primitive" as const, value: { value: { case: "stringValue" as const, value } } } } } }]),
    ),
  });
}

function stringOutputs(outputs: LiteralMap | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(outputs?.literals ?? {}).map(([name, literal]) => {
      const scalar = literal.value.case === "scalar" ? literal.value.value : undefined;
      const primitive = scalar?.value.case === "primitive" ? scalar.value.value : undefined;
      return [name, primitive?.value.value];
    }),
  );
}

class GreetConnector extends SyncConnector {
  readonly name = "Greeter";
  readonly taskTypeName = "flyte1_greet";
  async do({ inputs }: CreateRequest): Promise<Resource> {
    const name = String(inputs["name"]);
    if (name === "fail") throw new Error("the greeting service is down");
    // "big": an answer over the 1 MiB a resource meta may hold (ExecuteTaskSync keeps no meta).
    return { phase: Phase.SUCCEEDED, outputs: { greeting: name === "big" ? "x".repeat(2 * 1024 * 1024) : `hello ${name}` } };
  }
}

// The transport FLYTE_CONNECTOR_TEST_TRANSPORT names (scripts/test.mjs runs the service tests on each).
const transport = testTransport() ?? DEFAULT_TRANSPORT;

describe(`Flyte 1 agent services (grpc-go, as propeller dials; ${transport} transport)`, { skip: missing }, () => {
  let service: ConnectorServiceHandle;

  before(async () => {
    const registry = new ConnectorRegistry();
    registry.register(new EchoConnector()).register(new TestConnector()).register(new GreetConnector());
    service = await startConnectorService({ port: 0, host: "127.0.0.1", prometheusPort: null, connectPort: null, transport, registry, builtins: false, discover: false, logLevel: "silent" });
  });

  after(async () => {
    await service?.close({ gracePeriodMs: 0 });
  });

  test("ListAgents, then create → get → delete as propeller sends them (task_type beside task_category)", async () => {
    const category = { name: "echo", version: 0 };
    const [list, created] = await goCalls(service.port, [
      { method: "/flyteidl.service.AgentMetadataService/ListAgents", request: bytes(ListAgentsRequestSchema, {}) },
      {
        method: `${ASYNC}/CreateTask`,
        request: bytes(CreateTaskRequestSchema, { template: template("echo", { who: SimpleType.STRING }), inputs: strings({ who: "propeller" }), outputPrefix: "s3://b/x/1" }),
      },
    ]);
    const agents = decode(ListAgentsResponseSchema, list!).agents.map((a) => [a.name, a.isSync]);
    assert.deepEqual(agents, [["Echo Connector", false], ["Test Connector", false], ["Greeter", true]]);
    assert.equal(created!.code, Code.OK, created!.message);
    const resourceMeta = decode(CreateTaskResponseSchema, created!).resourceMeta;
    const [got, deleted] = await goCalls(service.port, [
      { method: `${ASYNC}/GetTask`, request: bytes(GetTaskRequestSchema, { taskType: "echo", taskCategory: category, resourceMeta, outputPrefix: "s3://b/x/1" }) },
      { method: `${ASYNC}/DeleteTask`, request: bytes(DeleteTaskRequestSchema, { taskType: "echo", taskCategory: category, resourceMeta }) },
    ]);
    const resource = decode(GetTaskResponseSchema, got!).resource;
    assert.equal(resource?.phase, Phase.SUCCEEDED);
    assert.deepEqual(stringOutputs(resource?.outputs), { who: "propeller" });
    assert.equal(deleted!.code, Code.OK);
  });

  test("grpc.health.v1 reports each Flyte 1 service SERVING", async () => {
    const names = [AsyncAgentService.typeName, SyncAgentService.typeName, AgentMetadataService.typeName];
    // HealthCheckRequest{service} and HealthCheckResponse{status}, field 1 each, written out by hand (no health proto here).
    const request = (name: string) => new Uint8Array([0x0a, name.length, ...new TextEncoder().encode(name)]);
    const results = await goCalls(service.port, names.map((name) => ({ method: "/grpc.health.v1.Health/Check", request: request(name) })));
    assert.deepEqual(results.map((r) => [r.code, r.responses[0]]), names.map(() => [Code.OK, Buffer.from([0x08, 0x01]).toString("base64")]));
  });

  test("errors, deadlines, undecodable metas on delete, 6 MiB requests, logs streaming", async () => {
    const [unknown, deadline, undecodable, big, logs] = await goCalls(service.port, [
      { method: `${ASYNC}/CreateTask`, request: bytes(CreateTaskRequestSchema, { template: template("nope", {}) }) },
      { method: `${ASYNC}/CreateTask`, request: bytes(CreateTaskRequestSchema, { template: template("test", {}, { mode: "wait" }) }), timeoutMs: 300 },
      { method: `${ASYNC}/DeleteTask`, request: bytes(DeleteTaskRequestSchema, { taskType: "test", taskCategory: { name: "test" }, resourceMeta: new TextEncoder().encode("\u00ff not json") }) },
      { method: `${ASYNC}/CreateTask`, request: bytes(CreateTaskRequestSchema, { template: template("test", { s: SimpleType.STRING }), inputs: strings({ s: "z".repeat(6 * 1024 * 1024) }) }) },
      { method: `${ASYNC}/GetTaskLogs`, request: bytes(GetTaskLogsRequestSchema, { taskType: "test", resourceMeta: new TextEncoder().encode('{"id":"j","ms":0}') }), stream: true },
    ]);
    assert.equal(unknown!.code, Code.NOT_FOUND);
    assert.match(unknown!.message, /^Cannot find connector for task type: nope\./);
    assert.equal(deadline!.code, Code.DEADLINE_EXCEEDED);
    assert.equal(undecodable!.code, Code.OK, undecodable!.message);
    assert.equal(big!.code, Code.OK, big!.message);
    assert.equal(logs!.code, Code.OK, logs!.message);
    const parts = logs!.responses.map((_, i) => decode(GetTaskLogsResponseSchema, logs!, i).part);
    assert.deepEqual(
      parts.map((p) => (p.case === "header" ? { header: p.value.token } : { body: p.value?.results })),
      [{ header: "next-page" }, { body: ["line 1", "line 2"] }],
    );
  });

  for (const closeSendFirst of [true, false]) {
    test(`ExecuteTaskSync: header + inputs, answered with one header holding the resource and outputs (${closeSendFirst ? "half-close first, as current propellers" : "answer before the half-close, as the older agent plugin"})`, async () => {
      const requests = [
        bytes(ExecuteTaskSyncRequestSchema, { part: { case: "header", value: { template: template("flyte1_greet", { name: SimpleType.STRING }), outputPrefix: "s3://b/sync/1" } } }),
        bytes(ExecuteTaskSyncRequestSchema, { part: { case: "inputs", value: strings({ name: "Grace" }) } }),
      ];
      const [result] = await goCalls(service.port, [{ method: "/flyteidl.service.SyncAgentService/ExecuteTaskSync", bidi: true, requests, closeSendFirst, timeoutMs: 5000 }]);
      assert.equal(result!.code, Code.OK, result!.message);
      assert.equal(result!.responses.length, 1);
      const answer = decode(ExecuteTaskSyncResponseSchema, result!);
      assert.equal(answer.res.case, "header");
      const resource = answer.res.case === "header" ? answer.res.value.resource : undefined;
      assert.equal(resource?.phase, Phase.SUCCEEDED);
      assert.deepEqual(stringOutputs(resource?.outputs), { greeting: "hello Grace" });
    });
  }

  test("ExecuteTaskSync: outputs over 1 MiB come back inline; a failing do is INTERNAL \"failed to do …\" as flytekit's", async () => {
    const run = (name: string) => [
      bytes(ExecuteTaskSyncRequestSchema, { part: { case: "header", value: { template: template("flyte1_greet", { name: SimpleType.STRING }) } } }),
      bytes(ExecuteTaskSyncRequestSchema, { part: { case: "inputs", value: strings({ name }) } }),
    ];
    const [big, failed] = await goCalls(service.port, [
      { method: "/flyteidl.service.SyncAgentService/ExecuteTaskSync", bidi: true, requests: run("big"), closeSendFirst: true },
      { method: "/flyteidl.service.SyncAgentService/ExecuteTaskSync", bidi: true, requests: run("fail"), closeSendFirst: true },
    ]);
    assert.equal(big!.code, Code.OK, big!.message);
    const answer = decode(ExecuteTaskSyncResponseSchema, big!);
    const greeting = stringOutputs(answer.res.case === "header" ? answer.res.value.resource?.outputs : undefined)["greeting"];
    assert.equal(String(greeting).length, 2 * 1024 * 1024);
    assert.equal(failed!.code, 13);
    assert.match(failed!.message, /^failed to do flyte1_greet task with error: the greeting service is down/);
  });

  test("ExecuteTaskSync streams out of order are INVALID_ARGUMENT naming the problem", async () => {
    const header = bytes(ExecuteTaskSyncRequestSchema, { part: { case: "header", value: { template: template("flyte1_greet", { name: SimpleType.STRING }) } } });
    const inputs = bytes(ExecuteTaskSyncRequestSchema, { part: { case: "inputs", value: strings({ name: "x" }) } });
    const call = (requests: Uint8Array[]) => ({ method: "/flyteidl.service.SyncAgentService/ExecuteTaskSync", bidi: true, requests, closeSendFirst: true, timeoutMs: 5000 });
    const [inputsFirst, twoHeaders, headerOnly, empty] = await goCalls(service.port, [call([inputs, header]), call([header, header]), call([header]), call([])]);
    assert.equal(inputsFirst!.code, 3);
    assert.match(inputsFirst!.message, /first message must be a header/);
    assert.equal(twoHeaders!.code, 3);
    assert.match(twoHeaders!.message, /only one inputs message/);
    assert.equal(headerOnly!.code, 3, "the task declares an input the stream never sent");
    assert.match(headerOnly!.message, /name/);
    assert.equal(empty!.code, 3);
  });

  test("ExecuteTaskSync for an async connector: FAILED_PRECONDITION naming it, no job started", async () => {
    const requests = [
      bytes(ExecuteTaskSyncRequestSchema, { part: { case: "header", value: { template: template("test", {}, { mode: "wait" }) } } }),
      bytes(ExecuteTaskSyncRequestSchema, { part: { case: "inputs", value: {} } }),
    ];
    observed.lastCreateInputSize = -1;
    const [result] = await goCalls(service.port, [{ method: "/flyteidl.service.SyncAgentService/ExecuteTaskSync", bidi: true, requests, closeSendFirst: true, timeoutMs: 5000 }]);
    assert.equal(result!.code, Code.FAILED_PRECONDITION);
    assert.equal(observed.lastCreateInputSize, -1, "the async connector's create must not run");
    assert.match(result!.message, /Test Connector.*asynchronous/);
  });
});
