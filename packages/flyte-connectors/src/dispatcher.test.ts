import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  CreateTaskRequestSchema,
  DeleteTaskRequestSchema,
  GetConnectorRequestSchema,
  GetTaskLogsRequestSchema,
  GetTaskMetricsRequestSchema,
  GetTaskRequestSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { TypedInterfaceSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/interface_pb.js";
import { LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { AsyncConnector, SyncConnector, type CreateRequest, type LogsPage, type Resource, type ResourceRequest } from "./connector.js";
import { ConnectorDispatcher } from "./dispatcher.js";
import { ConnectorError } from "./errors.js";
import { Phase } from "./phase.js";
import { ConnectorRegistry } from "./registry.js";
import { ResourceMeta } from "./resource-meta.js";
import { builtinConnectors } from "./builtin/index.js";
import { decodeOutputs, encodeInputs, types, variableMap } from "./types/index.js";

class JobMeta extends ResourceMeta.define({ job_id: "string" }) {}

/** A connector whose behaviour each test sets through `script`. */
class ScriptedConnector extends AsyncConnector<JobMeta> {
  readonly name = "Scripted";
  readonly taskTypeName = "scripted";
  readonly metadataType = JobMeta;
  override readonly outputTypes = { total: types.int };
  created: CreateRequest[] = [];
  deleted: string[] = [];
  script: { get?: (r: ResourceRequest<JobMeta>) => Promise<Resource>; create?: (r: CreateRequest) => Promise<JobMeta> } = {};

  async create(request: CreateRequest): Promise<JobMeta> {
    this.created.push(request);
    return this.script.create ? this.script.create(request) : new JobMeta({ job_id: "job-1" });
  }
  async get(request: ResourceRequest<JobMeta>): Promise<Resource> {
    return this.script.get ? this.script.get(request) : { phase: Phase.SUCCEEDED, outputs: { total: 42 } };
  }
  async delete(request: ResourceRequest<JobMeta>): Promise<void> {
    this.deleted.push(request.resourceMeta.job_id);
  }
  override async *getLogs(): AsyncIterable<LogsPage> {
    yield { lines: ["line 1", "line 2"], token: "page-2" };
    yield { lines: ["line 3"] };
  }
}

const inputTypes = { n: types.int, name: types.string };

async function createRequest() {
  return create(CreateTaskRequestSchema, {
    template: {
      type: "scripted",
      interface: { inputs: variableMap(inputTypes) },
      custom: { endpoint: "https://x" },
    },
    inputs: await encodeInputs({ n: 3, name: "a" }, inputTypes),
    outputPrefix: "s3://bucket/run/action/1",
    connection: { taskType: "scripted", secrets: { api_key: "s3cr3t-value" }, configs: { region: "eu" } },
  });
}

const category = { name: "scripted", version: 0 };
const signal = () => new AbortController().signal;

/** Like AbortSignal.timeout, but its timer keeps the test process alive while a call hangs. */
function deadline(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DOMException("deadline passed", "TimeoutError")), ms);
  return controller.signal;
}

function setup() {
  const connector = new ScriptedConnector();
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(connector));
  return { connector, dispatcher };
}

test("create decodes inputs and custom, passes secrets and configs, and returns the encoded meta", async () => {
  const { connector, dispatcher } = setup();
  const response = await dispatcher.createTask(await createRequest(), signal());
  assert.equal(new TextDecoder().decode(response.resourceMeta), '{"job_id": "job-1"}');
  const seen = connector.created[0]!;
  assert.deepEqual(seen.inputs, { n: 3, name: "a" });
  assert.deepEqual(seen.custom, { endpoint: "https://x" });
  assert.deepEqual(seen.secrets, { api_key: "s3cr3t-value" });
  assert.deepEqual(seen.configs, { region: "eu" });
  assert.equal(seen.outputPrefix, "s3://bucket/run/action/1");
});

test("get returns phase and outputs encoded with the connector's declared types", async () => {
  const { dispatcher } = setup();
  const response = await dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), signal());
  assert.equal(response.resource?.phase, Phase.SUCCEEDED);
  const outputs = await decodeOutputs(response.resource!.outputs!, variableMap({ total: types.int }));
  assert.deepEqual(outputs, { total: 42 });
});

test("a job failure is an answer with phase FAILED, not an error", async () => {
  const { connector, dispatcher } = setup();
  connector.script.get = async () => ({ phase: Phase.FAILED, message: "query syntax error" });
  const response = await dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), signal());
  assert.equal(response.resource?.phase, Phase.FAILED);
  assert.equal(response.resource?.message, "query syntax error");
  assert.equal(response.resource?.outputs, undefined);
});

test("unknown task types are NOT_FOUND with the Python service's message, the version asked for and what is served", async () => {
  const { dispatcher } = setup();
  dispatcher.registry.register(builtinConnectors[0]!);
  const request = await createRequest();
  request.template!.type = "nope";
  await assert.rejects(dispatcher.createTask(request, signal()), {
    code: "NOT_FOUND",
    message: "Cannot find connector for task type: nope. Asked for version 0; this service serves: scripted v0, echo v0.",
  });
  await assert.rejects(
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "scripted", version: 3 }, resourceMeta: new Uint8Array() }), signal()),
    { code: "NOT_FOUND", message: /^Cannot find connector for task type: scripted\. Asked for version 3; this service serves: scripted v0, echo v0\.$/ },
  );
});

test("inputs are checked against the task's interface: missing, unexpected, dataclass field missing", async () => {
  const { connector, dispatcher } = setup();
  const expectInvalid = async (mutate: (r: Awaited<ReturnType<typeof createRequest>>) => void | Promise<void>, message: RegExp) => {
    const request = await createRequest();
    await mutate(request);
    await assert.rejects(dispatcher.createTask(request, signal()), (error: unknown) => {
      assert.ok(error instanceof ConnectorError);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.match(error.message, message);
      return true;
    });
  };
  await expectInvalid((r) => void r.inputs!.literals.splice(r.inputs!.literals.findIndex((l) => l.name === "n"), 1), /^n: missing input of type int/);
  await expectInvalid(async (r) => {
    r.inputs!.literals.push(...(await encodeInputs({ extra: 1 }, { extra: types.int })).literals);
  }, /^extra: unexpected input: the task's interface does not declare it \(declared inputs: n, name\)/);
  const job = types.dataclass({ title: "Job", type: "object", properties: { id: { type: "string" } }, required: ["id"] });
  await expectInvalid(async (r) => {
    r.template!.interface = create(TypedInterfaceSchema, { inputs: variableMap({ ...inputTypes, job }) });
    // Encoded as an untyped dict, as an older Python dataclass without `id` would arrive.
    r.inputs!.literals.push(...(await encodeInputs({ job: { other: 1 } }, { job: types.struct })).literals);
  }, /^job: .*missing required field "id" of Job/);
  assert.equal(connector.created.length, 0, "the connector never saw a bad request");
  // An optional input may be absent: the connector sees null.
  const request = await createRequest();
  request.template!.interface = create(TypedInterfaceSchema, { inputs: variableMap({ ...inputTypes, note: types.optional(types.string) }) });
  await dispatcher.createTask(request, signal());
  assert.deepEqual(connector.created[0]?.inputs, { n: 3, name: "a", note: null });
});

test("a sync connector's meta is validated fully on get: an impossible phase or payload is INVALID_ARGUMENT", async () => {
  class Upper extends SyncConnector {
    readonly name = "Upper";
    readonly taskTypeName = "upper";
    async do(): Promise<Resource> {
      return { phase: Phase.SUCCEEDED };
    }
  }
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new Upper()));
  const get = (meta: string) =>
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "upper", version: 0 }, resourceMeta: new TextEncoder().encode(meta) }), signal());
  for (const [meta, problem] of [
    ['{"phase":1e300}', /phase 1e\+300 is not a valid flyteidl2 TaskExecution\.Phase/],
    ['{"phase":0}', /phase 0 is not a valid/],
    ['{"phase":3,"outputs":"/w=="}', /the stored result is not readable/],
    ['{"phase":3,"log_links":[{"uri":7}]}', /the stored result is not readable/],
  ] as const) {
    await assert.rejects(get(meta), { code: "INVALID_ARGUMENT", message: problem }, meta);
  }
  assert.equal((await get('{"phase":5,"message":"boom"}')).resource?.message, "boom");
});

test("a meta whose connector-specific check fails is INVALID_ARGUMENT, also from a custom decode that throws", async () => {
  class StrictMeta extends ResourceMeta.define({ job_id: "string" }) {
    override validate(): void {
      if (!/^j-\d+$/.test(this.job_id)) throw new Error(`job_id ${JSON.stringify(this.job_id)} is not a job id`);
    }
  }
  class Strict extends ScriptedConnector {
    override readonly taskTypeName = "strict" as "scripted";
    override readonly metadataType = StrictMeta as never;
  }
  class CustomDecode extends ScriptedConnector {
    override readonly taskTypeName = "custom" as "scripted";
    override readonly metadataType = {
      name: "CustomMeta",
      fields: undefined,
      prototype: JobMeta.prototype,
      decode(): JobMeta {
        throw new TypeError("Cannot read properties of undefined (reading 'id')");
      },
    } as unknown as typeof JobMeta;
  }
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(new Strict()).register(new CustomDecode()));
  const get = (name: string, meta: string) =>
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: { name, version: 0 }, resourceMeta: new TextEncoder().encode(meta) }), signal());
  await assert.rejects(get("strict", '{"job_id":"x"}'), { code: "INVALID_ARGUMENT", message: 'Cannot decode resource meta as StrictMeta: job_id "x" is not a job id' });
  assert.equal((await get("strict", '{"job_id":"j-1"}')).resource?.phase, Phase.SUCCEEDED);
  await assert.rejects(get("custom", "{}"), { code: "INVALID_ARGUMENT", message: /^Cannot decode resource meta as CustomMeta: Cannot read properties/ });
});

test("malformed resource meta on get is INVALID_ARGUMENT naming the problem", async () => {
  const { dispatcher } = setup();
  await assert.rejects(
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta: new TextEncoder().encode("{oops") }), signal()),
    (e: unknown) => e instanceof ConnectorError && e.code === "INVALID_ARGUMENT" && /JobMeta: not valid JSON/.test(e.message),
  );
});

test("delete is OK for undecodable metas without calling the connector, and calls it otherwise", async () => {
  const { connector, dispatcher } = setup();
  await dispatcher.deleteTask(create(DeleteTaskRequestSchema, { taskCategory: category, resourceMeta: new Uint8Array([1, 2, 3]) }), signal());
  assert.deepEqual(connector.deleted, []);
  await dispatcher.deleteTask(create(DeleteTaskRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j9" }).encode() }), signal());
  assert.deepEqual(connector.deleted, ["j9"]);
});

test("a connector's exception becomes INTERNAL with its message, cut short and without secret values", async () => {
  const { connector, dispatcher } = setup();
  connector.script.create = async ({ secrets }) => {
    throw new Error(`upstream refused key ${secrets["api_key"]}: ${"x".repeat(10_000)}`);
  };
  await assert.rejects(dispatcher.createTask(await createRequest(), signal()), (e: unknown) => {
    assert.ok(e instanceof ConnectorError);
    assert.equal(e.code, "INTERNAL");
    assert.match(e.message, /^failed to create scripted task with error: upstream refused key \*\*\*\*\*: x+/);
    assert.ok(e.message.length < 4200, `message length ${e.message.length}`);
    assert.doesNotMatch(e.message, /s3cr3t-value/);
    assert.doesNotMatch(String((e.cause as Error).stack), /s3cr3t-value/);
    return true;
  });
});

test("the call ends when its deadline passes even if the connector ignores the signal", async () => {
  const { connector, dispatcher } = setup();
  connector.script.get = () => new Promise(() => {});
  const started = Date.now();
  await assert.rejects(
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), deadline(50)),
    { code: "DEADLINE_EXCEEDED" },
  );
  assert.ok(Date.now() - started < 1000);
  const controller = new AbortController();
  const call = dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), controller.signal);
  controller.abort();
  await assert.rejects(call, { code: "CANCELLED" });
});

test("phase UNDEFINED from a connector is an INTERNAL error, never sent to the backend", async () => {
  const { connector, dispatcher } = setup();
  connector.script.get = async () => ({ phase: Phase.UNDEFINED });
  await assert.rejects(
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), signal()),
    { code: "INTERNAL", message: /invalid phase/ },
  );
});

test("logs stream header and body parts; metrics are UNIMPLEMENTED when the connector has none", async () => {
  const { dispatcher } = setup();
  const parts = [];
  for await (const part of dispatcher.getTaskLogs(create(GetTaskLogsRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), signal())) {
    parts.push(part.part);
  }
  assert.deepEqual(
    parts.map((p) => (p.case === "header" ? `header:${p.value.token}` : p.case === "body" ? `body:${p.value.lines.map((l) => l.message).join("|")}` : "?")),
    ["header:page-2", "body:line 1|line 2", "body:line 3"],
  );
  await assert.rejects(
    dispatcher.getTaskMetrics(create(GetTaskMetricsRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), signal()),
    { code: "UNIMPLEMENTED", message: 'Connector "Scripted" does not implement getMetrics.' },
  );
});

test("a sync connector runs in create; its result comes back from the first get, from any replica", async () => {
  class Upper extends SyncConnector {
    readonly name = "Upper";
    readonly taskTypeName = "upper";
    calls = 0;
    async do({ inputs }: CreateRequest): Promise<Resource> {
      this.calls++;
      return { phase: Phase.SUCCEEDED, outputs: { name: String(inputs["name"]).toUpperCase() }, logLinks: [{ name: "trace", uri: "https://t/1" }] };
    }
  }
  const upper = new Upper();
  const first = new ConnectorDispatcher(new ConnectorRegistry().register(upper));
  const request = await createRequest();
  request.template!.type = "upper";
  const { resourceMeta } = await first.createTask(request, signal());
  // A second dispatcher stands for another replica: nothing is kept in memory.
  const second = new ConnectorDispatcher(new ConnectorRegistry().register(new Upper()));
  const response = await second.getTask(create(GetTaskRequestSchema, { taskCategory: { name: "upper", version: 0 }, resourceMeta }), signal());
  assert.equal(upper.calls, 1);
  assert.equal(response.resource?.phase, Phase.SUCCEEDED);
  assert.equal(response.resource?.logLinks[0]?.uri, "https://t/1");
  assert.deepEqual(await decodeOutputs(response.resource!.outputs!, variableMap({ name: types.string })), { name: "A" });
  await second.deleteTask(create(DeleteTaskRequestSchema, { taskCategory: { name: "upper", version: 0 }, resourceMeta }), signal());
});

test("list and get connector metadata", () => {
  const { dispatcher } = setup();
  assert.deepEqual(
    dispatcher.listConnectors().connectors.map((c) => [c.name, c.supportedTaskCategories.map((t) => `${t.name}@${t.version}`)]),
    [["Scripted", ["scripted@0"]]],
  );
  assert.equal(dispatcher.getConnector(create(GetConnectorRequestSchema, { name: "Scripted" })).connector?.name, "Scripted");
  assert.throws(() => dispatcher.getConnector(create(GetConnectorRequestSchema, { name: "x" })), { code: "NOT_FOUND" });
});

test("a log stream ends when its signal fires even if the connector's generator ignores it", async () => {
  const { connector, dispatcher } = setup();
  connector.getLogs = async function* () {
    yield { lines: ["first"] };
    await new Promise(() => {}); // never settles, ignores the signal
  };
  const controller = new AbortController();
  const started = Date.now();
  const parts: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const part of dispatcher.getTaskLogs(create(GetTaskLogsRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), controller.signal)) {
        parts.push(part.part.case ?? "");
        setTimeout(() => controller.abort(), 20);
      }
    })(),
    { code: "CANCELLED" },
  );
  assert.deepEqual(parts, ["body"]);
  assert.ok(Date.now() - started < 1000);
});

test("getLogs answering something that is not a page is INTERNAL, not a crash", async () => {
  const { connector, dispatcher } = setup();
  connector.getLogs = (async () => undefined) as never;
  await assert.rejects(
    (async () => {
      for await (const _ of dispatcher.getTaskLogs(create(GetTaskLogsRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), signal())) void _;
    })(),
    { code: "INTERNAL", message: /getLogs returned neither/ },
  );
});

test("a secret that contains another secret is hidden whole", async () => {
  const { connector, dispatcher } = setup();
  const request = await createRequest();
  request.connection!.secrets = { short: "abc", long: "abcSECRETTAIL" };
  connector.script.create = async () => {
    throw new Error("auth failed for abcSECRETTAIL and abc");
  };
  await assert.rejects(dispatcher.createTask(request, signal()), (e: unknown) => {
    assert.ok(e instanceof ConnectorError);
    assert.match(e.message, /auth failed for \*\*\*\*\* and \*\*\*\*\*$/);
    assert.doesNotMatch(e.message, /SECRET|TAIL/);
    return true;
  });
});

test("outputs a connector cannot encode are INTERNAL (its bug), naming the output", async () => {
  const { connector, dispatcher } = setup();
  connector.script.get = async () => ({ phase: Phase.SUCCEEDED, outputs: { total: 1.5 } });
  await assert.rejects(
    dispatcher.getTask(create(GetTaskRequestSchema, { taskCategory: category, resourceMeta: new JobMeta({ job_id: "j" }).encode() }), signal()),
    (e: unknown) => e instanceof ConnectorError && e.code === "INTERNAL" && /cannot be encoded/.test(e.message) && /total/.test(e.message),
  );
});

test("an offloaded input whose storage hangs ends with the call's deadline as a ConnectorError", async () => {
  const connector = new ScriptedConnector();
  const hangingStorage = { read: () => new Promise<Uint8Array>(() => {}) };
  const dispatcher = new ConnectorDispatcher(new ConnectorRegistry().register(connector), { storage: hangingStorage });
  const request = await createRequest();
  request.inputs!.literals[0]!.value = create(LiteralSchema, { value: { case: "offloadedMetadata", value: { uri: "s3://bucket/big.pb" } } });
  const started = Date.now();
  await assert.rejects(dispatcher.createTask(request, deadline(50)), (e: unknown) => e instanceof ConnectorError && e.code === "DEADLINE_EXCEEDED");
  assert.ok(Date.now() - started < 1000);
  assert.equal(connector.created.length, 0);
});
