// The BigQuery connector through the service's gRPC API (and once through runTask), with the real
// @google-cloud/bigquery client pointed at a local fake of the BigQuery REST API v2 (see fake-bigquery.test-support.ts).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { create as createMessage } from "@bufbuild/protobuf";
import { SqlSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorRegistry, ConnectorTask, DataFrame, Duration, decodeOutputs, encodeInputs, Phase, runTask, TaskFailedError, types } from "flyte-connectors";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { FakeBigQuery } from "./fake-bigquery.test-support.js";
import connectors from "./connectors.js";
import { BigQueryConnector, BigQueryMetadata, BigQueryTask } from "./index.js";

const A = AsyncConnectorService.method;
const category = { name: "bigquery_query_job_task", version: 0 };
const decoder = new TextDecoder();

let fake: FakeBigQuery;
let service: TestService;
/** Every reply, error detail and meta the tests saw, to check that no secret leaks into any of them. */
const seen: string[] = [];
let runCounter = 0;

before(async () => {
  fake = await FakeBigQuery.start();
  // Short back-off so retries stay fast; the attempt count is the production default (3 retries).
  service = await serveForTest([new BigQueryConnector({ apiEndpoint: fake.url, retry: { minDelay: 5, maxDelay: 20 } })]);
});
after(async () => {
  await service.close();
  await fake.close();
});
beforeEach(() => fake.clearFaults());

/** A run name of its own for each test, so job ids (derived from it) never collide across tests. */
function newRun(): string {
  return `r${++runCounter}-${Date.now().toString(36)}`;
}

interface CreateOptions {
  run?: string;
  attempt?: number;
  inputs?: Record<string, unknown>;
  secret?: string | null;
}

async function createRequest(task: BigQueryTask<any, any>, options: CreateOptions = {}) {
  const template = task.toTaskTemplate();
  const run = options.run ?? newRun();
  const secrets: Record<string, string> = options.secret === null ? {} : { google_application_credentials: options.secret ?? fake.serviceAccountKey };
  return {
    template,
    inputs: await encodeInputs(options.inputs ?? {}, task.inputs),
    outputPrefix: `s3://bucket/shard/${run}/a0/1`,
    taskExecutionMetadata: {
      taskExecutionId: {
        taskId: template.id,
        nodeExecutionId: { nodeId: "a0", executionId: { project: "flytesnacks", domain: "development", name: run, org: "" } },
        retryAttempt: options.attempt ?? 0,
      },
    },
    connection: { secrets },
  };
}

const connection = () => ({ secrets: { google_application_credentials: fake.serviceAccountKey } });

async function create(task: BigQueryTask<any, any>, options: CreateOptions = {}) {
  const reply = await service.client.unary(A.createTask, await createRequest(task, options));
  const meta = decoder.decode(reply.resourceMeta);
  seen.push(meta);
  return { bytes: reply.resourceMeta, meta: JSON.parse(meta) as { job_id: string; project: string; location: string | null; user_agent: string } };
}

async function get(resourceMeta: Uint8Array) {
  const reply = await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, outputPrefix: "s3://bucket/out", connection: connection() });
  seen.push(JSON.stringify(reply.resource));
  return reply.resource!;
}

async function del(resourceMeta: Uint8Array) {
  await service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection: connection() });
}

async function rejects(promise: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    const e = error as grpc.ServiceError;
    seen.push(e.details);
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    if (message) assert.match(e.details, message);
    return e;
  }
  assert.fail(`expected ${grpc.status[code]}, got OK`);
}

const countsTask = () =>
  new BigQueryTask({
    name: "daily_counts",
    query: "SELECT name, COUNT(*) AS n\nFROM `flyte-test.logs.events`\nWHERE day = @day AND n > @min_n -- a comment\n  AND score < @max_score AND active = @active AND ts > @since AND id IN UNNEST(@ids) AND tag = @tag",
    config: { projectId: "flyte-test", location: "EU", queryJobConfig: { useQueryCache: false, priority: "BATCH", maximumBytesBilled: "1000000000" } },
    inputs: {
      day: types.string,
      min_n: types.int,
      max_score: types.float,
      active: types.boolean,
      since: types.datetime,
      ids: types.list(types.int),
      tag: types.optional(types.string),
    },
    outputs: { results: types.dataframe() },
    domain: "development",
    googleApplicationCredentials: "BQ_KEY",
  });

const countsInputs = {
  day: "2026-11-21",
  min_n: 10,
  max_score: 0.5,
  active: true,
  since: new Date("2026-11-21T08:30:00.250Z"),
  ids: [1, 2, 9007199254740993n],
  tag: null,
};

describe("BigQuery connector over gRPC", () => {
  test("the package's default export is the connector the service discovers", () => {
    assert.equal(connectors.length, 1);
    assert.ok(connectors[0] instanceof BigQueryConnector);
    assert.equal(connectors[0].taskTypeName, "bigquery_query_job_task");
    assert.equal(connectors[0].name, "Bigquery Connector");
  });

  test("create → get (PENDING, RUNNING, DONE) returns the destination table as the results DataFrame", async () => {
    const task = countsTask();
    const { bytes, meta } = await create(task, { inputs: countsInputs });

    assert.match(meta.job_id, /^flyte_flytesnacks_development_r\d+-[a-z0-9]+_a0_0_[0-9a-f]{16}$/);
    assert.match(meta.job_id, /^[A-Za-z0-9_-]{1,1024}$/);
    assert.deepEqual(Object.keys(meta), ["job_id", "project", "location", "user_agent"]);
    assert.equal(meta.project, "flyte-test");
    assert.equal(meta.location, "EU");
    assert.match(meta.user_agent, /^Flyte\/[\d.]+ \(GPN:Union;development\)$/);

    const [insert] = fake.calls("insert");
    assert.ok(insert);
    assert.equal(insert.path, "/projects/flyte-test/jobs");
    assert.ok(insert.userAgent?.startsWith(meta.user_agent));
    assert.deepEqual(insert.body?.["jobReference"], { projectId: "flyte-test", jobId: meta.job_id, location: "EU" });
    const query = insert.body?.["configuration"].query;
    assert.equal(query.query, task.query, "the query is sent as written, newlines and comments included");
    assert.equal(query.useLegacySql, false);
    assert.equal(query.useQueryCache, false);
    assert.equal(query.priority, "BATCH");
    assert.equal(query.maximumBytesBilled, "1000000000");
    assert.equal(query.parameterMode, "NAMED");
    const byName = Object.fromEntries((query.queryParameters as Array<{ name: string }>).map((p) => [p.name, p]));
    assert.deepEqual(byName, {
      active: { name: "active", parameterType: { type: "BOOL" }, parameterValue: { value: "true" } },
      day: { name: "day", parameterType: { type: "STRING" }, parameterValue: { value: "2026-11-21" } },
      ids: {
        name: "ids",
        parameterType: { type: "ARRAY", arrayType: { type: "INT64" } },
        parameterValue: { arrayValues: [{ value: "1" }, { value: "2" }, { value: "9007199254740993" }] },
      },
      max_score: { name: "max_score", parameterType: { type: "FLOAT64" }, parameterValue: { value: "0.5" } },
      min_n: { name: "min_n", parameterType: { type: "INT64" }, parameterValue: { value: "10" } },
      since: { name: "since", parameterType: { type: "DATETIME" }, parameterValue: { value: "2026-11-21 08:30:00.250000" } },
      tag: { name: "tag", parameterType: { type: "STRING" }, parameterValue: {} },
    });

    const link = `https://console.cloud.google.com/bigquery?project=flyte-test&j=bq:EU:${meta.job_id}&page=queryresults`;
    const pending = await get(bytes);
    assert.equal(pending.phase, Phase.QUEUED);
    assert.equal(pending.message, "PENDING");
    assert.deepEqual(pending.logLinks.map((l) => [l.name, l.uri, l.ready, l.linkType]), [["BigQuery Console", link, true, 1]]);
    const running = await get(bytes);
    assert.equal(running.phase, Phase.RUNNING);
    const done = await get(bytes);
    assert.equal(done.phase, Phase.SUCCEEDED);
    assert.equal(done.message, "DONE");
    const outputs = await decodeOutputs(done.outputs, task.outputs);
    assert.ok(outputs["results"] instanceof DataFrame);
    assert.equal(outputs["results"].uri, `bq://flyte-test:_8f2a_anonymous.anon_${meta.job_id}`.slice(0, `bq://flyte-test:_8f2a_anonymous.`.length + 60));
    assert.equal(fake.calls("get").at(-1)?.search.get("location"), "EU");
  });

  test("an explicit destination table and custom query parameters pass through; a DDL job succeeds without outputs", async () => {
    const destination = { projectId: "warehouse", datasetId: "daily", tableId: "counts" };
    const task = new BigQueryTask({
      name: "to_table",
      query: "SELECT @a AS a, @b AS b",
      config: {
        projectId: "flyte-test",
        queryJobConfig: {
          destinationTable: destination,
          writeDisposition: "WRITE_TRUNCATE",
          queryParameters: [{ name: "b", parameterType: { type: "STRING" }, parameterValue: { value: "from-config" } }],
        },
      },
      inputs: { a: types.int },
      outputs: { results: types.dataframe() },
    });
    const { bytes, meta } = await create(task, { inputs: { a: 1 } });
    assert.equal(meta.location, "US", "without a Location, the job's location comes from BigQuery's reply");
    const query = fake.job("flyte-test", meta.job_id)!.resource["configuration"].query;
    assert.equal(query.writeDisposition, "WRITE_TRUNCATE");
    assert.deepEqual(query.queryParameters.map((p: { name: string }) => p.name).sort(), ["a", "b"]);
    await get(bytes);
    await get(bytes);
    const done = await get(bytes);
    assert.equal(done.phase, Phase.SUCCEEDED);
    assert.equal(((await decodeOutputs(done.outputs, task.outputs))["results"] as DataFrame).uri, "bq://warehouse:daily.counts");

    const configOnly = new BigQueryTask({
      name: "config_params",
      query: "SELECT @b",
      config: { projectId: "flyte-test", queryJobConfig: { queryParameters: [{ name: "b", parameterType: { type: "STRING" }, parameterValue: { value: "x" } }] } },
    });
    const configured = await create(configOnly);
    assert.equal(fake.job("flyte-test", configured.meta.job_id)!.resource["configuration"].query.parameterMode, "NAMED");

    const ddl = new BigQueryTask({ name: "ddl", query: "/*ddl*/ CREATE TABLE x.y (a INT64)", config: { projectId: "flyte-test" } });
    const created = await create(ddl);
    await get(created.bytes);
    await get(created.bytes);
    const ddlDone = await get(created.bytes);
    assert.equal(ddlDone.phase, Phase.SUCCEEDED);
    assert.equal(ddlDone.outputs, undefined);
  });

  test("a failed job is FAILED with BigQuery's error; a backend error is RETRYABLE_FAILED", async () => {
    const failing = await create(new BigQueryTask({ name: "bad", query: "/*fail*/ SELECT nope", config: { projectId: "flyte-test" } }));
    let resource = await get(failing.bytes);
    while (resource.phase !== Phase.FAILED && resource.phase !== Phase.SUCCEEDED) resource = await get(failing.bytes);
    assert.equal(resource.phase, Phase.FAILED);
    assert.equal(resource.message, "invalidQuery: Unrecognized name: nope at [1:8]");
    assert.equal(resource.logLinks[0]?.name, "BigQuery Console");

    const flaky = await create(new BigQueryTask({ name: "flaky", query: "/*backend-error*/ SELECT 1", config: { projectId: "flyte-test" } }));
    await get(flaky.bytes);
    await get(flaky.bytes);
    const retryable = await get(flaky.bytes);
    assert.equal(retryable.phase, Phase.RETRYABLE_FAILED);
    assert.match(retryable.message, /^backendError: /);
  });

  test("delete cancels a running job; the job then reports FAILED (cancelled)", async () => {
    const { bytes, meta } = await create(new BigQueryTask({ name: "long", query: "/*forever*/ SELECT 1", config: { projectId: "flyte-test", location: "EU" } }));
    await get(bytes);
    assert.equal((await get(bytes)).phase, Phase.RUNNING);
    await del(bytes);
    const job = fake.job("flyte-test", meta.job_id)!;
    assert.equal(job.cancels, 1);
    assert.equal(fake.calls("cancel").at(-1)?.search.get("location"), "EU");
    const after = await get(bytes);
    assert.equal(after.phase, Phase.FAILED);
    assert.match(after.message, /cancelled/);
  });

  test("delete of a finished job, an already cancelled job and an unknown job is OK", async () => {
    const { bytes, meta } = await create(new BigQueryTask({ name: "quick", query: "SELECT 1", config: { projectId: "flyte-test" } }));
    for (let i = 0; i < 3; i++) await get(bytes);
    await del(bytes);
    await del(bytes);
    assert.equal(fake.job("flyte-test", meta.job_id)!.resource["status"].errorResult, undefined, "a finished job stays succeeded");
    const unknown = new BigQueryMetadata({ job_id: "flyte_never_created", project: "flyte-test", location: "US", user_agent: "Flyte/2.0 (GPN:Union;)" });
    await del(unknown.encode());
    const lost = await get(unknown.encode());
    assert.equal(lost.phase, Phase.FAILED);
    assert.match(lost.message, /flyte_never_created was not found in project flyte-test \(location US\)/);
    const wrongLocation = new BigQueryMetadata({ job_id: meta.job_id, project: "flyte-test", location: "asia-east1", user_agent: meta.user_agent });
    await del(wrongLocation.encode());
  });

  test("429 then 503 on jobs.insert and jobs.get are retried within the call", async () => {
    const before = fake.calls("insert").length;
    fake.fail("insert", 429, 1, { reason: "rateLimitExceeded" });
    fake.fail("insert", 503, 1);
    const { bytes, meta } = await create(new BigQueryTask({ name: "retry", query: "SELECT 1", config: { projectId: "flyte-test" } }));
    assert.equal(fake.calls("insert").length - before, 3);
    assert.ok(fake.job("flyte-test", meta.job_id));
    // BigQuery answers some rate limits with 403 rateLimitExceeded: retried too (unlike a plain 403).
    fake.fail("get", 403, 1, { reason: "rateLimitExceeded" });
    fake.fail("get", 503, 1);
    assert.equal((await get(bytes)).phase, Phase.QUEUED);
  });

  test("a persistent 503 on jobs.get keeps the last known phase with a message instead of failing the RPC", async () => {
    const { bytes } = await create(new BigQueryTask({ name: "outage", query: "/*forever*/ SELECT 1", config: { projectId: "flyte-test" } }));
    await get(bytes);
    assert.equal((await get(bytes)).phase, Phase.RUNNING);
    fake.fail("get", 503, 1000);
    const during = await get(bytes);
    assert.equal(during.phase, Phase.RUNNING);
    assert.match(during.message, /temporarily unavailable.*503/i);
    assert.equal(during.logLinks[0]?.name, "BigQuery Console");
    fake.clearFaults();
    assert.equal((await get(bytes)).phase, Phase.RUNNING);
  });

  test("a persistent 503 on jobs.insert fails CreateTask with UNAVAILABLE after the retries; a hung API ends at the call's deadline", async () => {
    const before = fake.calls("insert").length;
    fake.fail("insert", 503, 1000);
    await rejects(create(new BigQueryTask({ name: "down", query: "SELECT 1", config: { projectId: "flyte-test" } })), grpc.status.UNAVAILABLE, /jobs\.insert failed \(HTTP 503\)/);
    assert.equal(fake.calls("insert").length - before, 4, "the first attempt and 3 retries");
    fake.clearFaults();

    fake.fail("insert", 0, 1000);
    const started = Date.now();
    const request = await createRequest(new BigQueryTask({ name: "hung", query: "SELECT 1", config: { projectId: "flyte-test" } }));
    await rejects(service.client.unary(A.createTask, request, { deadline: Date.now() + 300 }), grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 3000);
  });

  test("creating twice for one attempt starts one job; the next attempt starts another", async () => {
    const task = new BigQueryTask({ name: "once", query: "SELECT 1", config: { projectId: "flyte-test" } });
    const run = newRun();
    const first = await create(task, { run });
    const second = await create(task, { run });
    assert.deepEqual(second.meta, first.meta);
    const retried = await create(task, { run, attempt: 1 });
    assert.notEqual(retried.meta.job_id, first.meta.job_id);
    const jobsOfRun = [...fake.jobs.keys()].filter((k) => k.includes(run.replace(/[^A-Za-z0-9_-]/g, "_")));
    assert.equal(jobsOfRun.length, 2);
  });

  test("an insert whose reply is lost is retried and adopts the job it created", async () => {
    const [jobsBefore, insertsBefore, getsBefore] = [fake.jobs.size, fake.calls("insert").length, fake.calls("get").length];
    fake.fail("insert", 503, 1, { afterApplying: true });
    const { bytes, meta } = await create(new BigQueryTask({ name: "lost", query: "SELECT 2", config: { projectId: "flyte-test" } }));
    assert.equal(fake.jobs.size - jobsBefore, 1);
    assert.equal(fake.calls("insert").length - insertsBefore, 2, "the retried insert met 409");
    assert.equal(fake.calls("get").length - getsBefore, 1, "and the existing job was read once to adopt it");
    assert.equal(meta.location, "US");
    // The adoption's jobs.get was the job's first poll in the fake, so this one finds it RUNNING.
    assert.equal((await get(bytes)).phase, Phase.RUNNING);
  });

  test("an existing job with the same id but another query is not adopted", async () => {
    const run = newRun();
    await create(new BigQueryTask({ name: "q", query: "SELECT 1", config: { projectId: "flyte-test" } }), { run });
    await rejects(create(new BigQueryTask({ name: "q", query: "SELECT 2", config: { projectId: "flyte-test" } }), { run }), grpc.status.ALREADY_EXISTS, /different query/);
  });

  test("bad config: no ProjectID, no SQL, unsupported input, unknown QueryJobConfig field, bad key", async () => {
    const task = new BigQueryTask({ name: "t", query: "SELECT 1", config: { projectId: "flyte-test" } });
    const request = await createRequest(task);
    const noProject = structuredClone({ ...request, template: { ...request.template, custom: { Location: "US" } } });
    await rejects(service.client.unary(A.createTask, noProject), grpc.status.INVALID_ARGUMENT, /ProjectID/);
    await rejects(service.client.unary(A.createTask, { ...request, template: { ...request.template, target: { case: undefined } } }), grpc.status.INVALID_ARGUMENT, /SQL statement/);

    // A template a Python task could send: a timedelta input, which BigQuery parameters cannot carry.
    const durationTask = new ConnectorTask({ name: "d", taskType: "bigquery_query_job_task", inputs: { wait: types.duration }, custom: { ProjectID: "flyte-test" } });
    const durationTemplate = durationTask.toTaskTemplate();
    durationTemplate.target = { case: "sql", value: createMessage(SqlSchema, { statement: "SELECT @wait" }) };
    const withDuration = { ...request, template: durationTemplate, inputs: await encodeInputs({ wait: new Duration(1) }, durationTask.inputs) };
    await rejects(service.client.unary(A.createTask, withDuration), grpc.status.INVALID_ARGUMENT, /"wait" has a type BigQuery query parameters cannot carry/);

    const unknownField = new BigQueryTask({ name: "u", query: "SELECT 1", config: { projectId: "flyte-test", queryJobConfig: { notAField: true } as never } });
    await rejects(create(unknownField), grpc.status.INVALID_ARGUMENT, /Unknown name "notAField"/);

    await rejects(create(task, { secret: "{not json" }), grpc.status.FAILED_PRECONDITION, /google_application_credentials.*not a JSON key/);
    const wrongKey = JSON.parse(fake.serviceAccountKey) as Record<string, string>;
    wrongKey["client_email"] = "someone-else@fake-project.iam.gserviceaccount.com";
    await rejects(create(task, { secret: JSON.stringify(wrongKey) }), grpc.status.FAILED_PRECONDITION, /HTTP 401.*invalid authentication/);
  });

  test("a meta written by the Python connector (location None) is polled and cancelled", async () => {
    const { meta } = await create(new BigQueryTask({ name: "py", query: "/*forever*/ SELECT 1", config: { projectId: "flyte-test" } }));
    const python = new TextEncoder().encode(`{"job_id": "${meta.job_id}", "project": "flyte-test", "location": null, "user_agent": "Flyte/2.0.0 (GPN:Union;development)"}`);
    const resource = await get(python);
    assert.equal(resource.phase, Phase.QUEUED);
    assert.equal(resource.logLinks[0]?.uri, `https://console.cloud.google.com/bigquery?project=flyte-test&j=bq::${meta.job_id}&page=queryresults`);
    assert.equal(fake.calls("get").at(-1)?.search.get("location"), null);
    await del(python);
    assert.equal(fake.job("flyte-test", meta.job_id)!.cancels, 1);
  });

  test("Application Default Credentials when the task names no secret", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bq-adc-"));
    const saved = process.env["GOOGLE_APPLICATION_CREDENTIALS"];
    try {
      writeFileSync(join(dir, "key.json"), fake.serviceAccountKey);
      process.env["GOOGLE_APPLICATION_CREDENTIALS"] = join(dir, "key.json");
      const { bytes } = await create(new BigQueryTask({ name: "adc", query: "SELECT 1", config: { projectId: "flyte-test" } }), { secret: null });
      assert.equal((await get(bytes)).phase, Phase.QUEUED);
    } finally {
      if (saved === undefined) delete process.env["GOOGLE_APPLICATION_CREDENTIALS"];
      else process.env["GOOGLE_APPLICATION_CREDENTIALS"] = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("BIGQUERY_EMULATOR_HOST, set after a client was built, is honoured and wins over apiEndpoint", async () => {
    const saved = process.env["BIGQUERY_EMULATOR_HOST"];
    // Port 9 (discard) on loopback refuses connections: every call to the configured endpoint fails at once.
    const other = await serveForTest([new BigQueryConnector({ apiEndpoint: "http://127.0.0.1:9", retry: { retries: 0 } })]);
    try {
      delete process.env["BIGQUERY_EMULATOR_HOST"];
      const task = new BigQueryTask({ name: "emu", query: "SELECT 1", config: { projectId: "flyte-test" } });
      await rejects(other.client.unary(A.createTask, await createRequest(task)), grpc.status.UNAVAILABLE, /ECONNREFUSED/);
      process.env["BIGQUERY_EMULATOR_HOST"] = `${fake.url}/bigquery/v2`; // the full base URL: the library appends nothing
      const reply = await other.client.unary(A.createTask, await createRequest(task));
      seen.push(decoder.decode(reply.resourceMeta));
      assert.ok(fake.job("flyte-test", (JSON.parse(decoder.decode(reply.resourceMeta)) as { job_id: string }).job_id));
    } finally {
      if (saved === undefined) delete process.env["BIGQUERY_EMULATOR_HOST"];
      else process.env["BIGQUERY_EMULATOR_HOST"] = saved;
      await other.close();
    }
  });

  test("no reply, error or meta carries the key", () => {
    // Runs after the tests above (node:test runs a file's tests in order): checks everything they saw.
    assert.ok(seen.length > 20);
    const key = JSON.parse(fake.serviceAccountKey) as Record<string, string>;
    const material = [fake.serviceAccountKey, key["private_key"]!, key["private_key_id"]!, ...key["private_key"]!.split("\n").filter((l) => l.length > 20 && !l.startsWith("-"))];
    for (const text of seen) for (const secret of material) assert.ok(!text.includes(secret), `secret material in: ${text.slice(0, 200)}`);
  });
});

describe("BigQueryTask", () => {
  test("writes the custom config and SQL the Python BigQueryTask writes", () => {
    const minimal = new BigQueryTask({ name: "test_task", query: "SELECT * FROM table", config: { projectId: "test-project" }, domain: "test-domain" });
    const template = minimal.toTaskTemplate();
    assert.equal(template.type, "bigquery_query_job_task");
    assert.deepEqual(template.custom, { Location: null, ProjectID: "test-project", Domain: "test-domain" });
    assert.equal(template.target.case, "sql");
    assert.deepEqual(template.target.case === "sql" && [template.target.value.statement, template.target.value.dialect], ["SELECT * FROM table", 1]);
    assert.equal(template.interface?.outputs?.variables.length, 0);

    const full = new BigQueryTask({
      name: "t",
      query: "SELECT @x",
      config: { projectId: "p", location: "EU", queryJobConfig: { useQueryCache: false } },
      inputs: { x: types.int },
      outputs: { results: types.dataframe() },
      domain: "production",
      googleApplicationCredentials: "bq-key",
    });
    assert.deepEqual(full.toTaskTemplate().custom, {
      Location: "EU",
      ProjectID: "p",
      Domain: "production",
      useQueryCache: false,
      secrets: { google_application_credentials: "bq-key" },
    });
    assert.deepEqual(full.toTaskTemplate().interface?.outputs?.variables.map((v) => v.key), ["results"]);
  });

  test("rejects inputs that cannot be query parameters and outputs other than results", () => {
    assert.throws(() => new BigQueryTask({ name: "t", query: "SELECT 1", config: { projectId: "p" }, inputs: { f: types.file } }), /input "f" cannot be a query parameter/);
    assert.throws(() => new BigQueryTask({ name: "t", query: "SELECT 1", config: { projectId: "p" }, outputs: { other: types.dataframe() } as never }), /only declare the output "results"/);
    assert.throws(() => new BigQueryTask({ name: "t", query: "SELECT 1", config: {} as never }), /projectId/);
  });

  test("runs end to end with runTask, the key read from the environment", async () => {
    const task = new BigQueryTask({
      name: "local_counts",
      query: "SELECT COUNT(*) FROM logs WHERE day = @day",
      config: { projectId: "local-project", location: "EU" },
      inputs: { day: types.string },
      outputs: { results: types.dataframe() },
      googleApplicationCredentials: "BQ_TEST_KEY",
    });
    const registry = new ConnectorRegistry().register(new BigQueryConnector({ apiEndpoint: fake.url }));
    const { results } = await runTask(task, { day: "2026-11-21" }, { registry, pollInterval: 1, quiet: true, handleSigint: false, env: { BQ_TEST_KEY: fake.serviceAccountKey } });
    assert.ok(results instanceof DataFrame);
    assert.match(results.uri, /^bq:\/\/local-project:_8f2a_anonymous\.anon_flyte_local_development_local-/);

    const failing = new BigQueryTask({ name: "local_fail", query: "/*fail*/ SELECT nope", config: { projectId: "local-project" }, googleApplicationCredentials: "BQ_TEST_KEY" });
    const error = await runTask(failing, {}, { registry, pollInterval: 1, quiet: true, handleSigint: false, env: { BQ_TEST_KEY: fake.serviceAccountKey } }).catch((e: unknown) => e);
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.phase, Phase.FAILED);
    assert.match(error.reason, /Unrecognized name: nope/);
  });
});
