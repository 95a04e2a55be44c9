// The OpenAI Batch connector through the service's gRPC API, with the real `openai` client against a local fake of
// the OpenAI REST API (see testing/fake-openai.ts for the documentation version its shapes follow).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorRegistry, FlyteFile, Phase, runTask, TaskFailedError } from "flyte-connectors";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { BatchEndpointConnector, BatchEndpointMeta, BatchEndpointTask, IDEMPOTENCY_METADATA_KEY, type BatchConfig } from "./index.js";
import { FakeOpenAI } from "./testing/fake-openai.js";
import { createTaskRequest, rejectsWith, outputsOf, recording, Transcript, type Attempt } from "./testing/grpc-helpers.js";

const KEY = "sk-test-B4tchKey0123456789abcdef";
const SECRETS = { openai_api_key: KEY };
const TYPE = "openai-batch";
const STATUS = { INVALID_ARGUMENT: 3, FAILED_PRECONDITION: 9, UNAVAILABLE: 14 };

let fake: FakeOpenAI;
let service: TestService;
const transcript = new Transcript();
let rpc: ReturnType<typeof recording>;
let runs = 0;

before(async () => {
  fake = await new FakeOpenAI().start();
  fake.validKeys.add(KEY);
  service = await serveForTest([new BatchEndpointConnector({ baseURL: fake.baseURL })]);
  rpc = recording(service.client, transcript);
});

after(async () => {
  await service.close();
  await fake.close();
});

const requestsTask = (config: BatchConfig = {}) =>
  new BatchEndpointTask({ name: "batch", input: "requests", config, openaiOrganization: "org-flyte", secrets: { openai_api_key: "OPENAI_KEY_ENV" } });
const REQUESTS = [
  { model: "gpt-4o-mini", messages: [{ role: "user", content: "one" }] },
  { model: "gpt-4o-mini", messages: [{ role: "user", content: "two" }] },
];

/** CreateTask of a fresh run (or of `attempt`), returning the stored resource meta. */
async function create(task: BatchEndpointTask<any>, values: Record<string, unknown>, attempt: Attempt = { run: `run-${++runs}` }) {
  return (await rpc.create(await createTaskRequest(task, values, SECRETS, attempt))).resourceMeta;
}

const get = async (meta: Uint8Array) => (await rpc.get(TYPE, meta, SECRETS)).resource!;
const batchOf = (meta: Uint8Array) => fake.batches.get(BatchEndpointMeta.decode(meta).batch_id)!;

describe("BatchEndpointTask", () => {
  test("writes the Python BatchEndpointTask's task type, custom config and interface by default", () => {
    const template = toJson(TaskTemplateSchema, new BatchEndpointTask({ name: "b", config: { endpoint: "/v1/embeddings" } }).toTaskTemplate()) as Record<string, any>;
    assert.equal(template["type"], "openai-batch");
    assert.deepEqual(template["custom"], { openai_organization: null, config: { endpoint: "/v1/embeddings" } });
    const names = (vars: { key: string }[]) => vars.map((v) => v.key);
    assert.deepEqual(names(template["interface"].inputs.variables), ["input_file_id"]);
    assert.deepEqual(names(template["interface"].outputs.variables), ["result"]);
    assert.equal(template["interface"].outputs.variables[0].value.type.simple, "STRUCT");
  });
});

describe("Batch connector over gRPC", () => {
  test("uploads inline requests, creates the batch, polls it through its statuses and outputs the batch", async () => {
    const meta = await create(requestsTask({ metadata: { team: "ml" } }), { requests: REQUESTS });
    const decoded = BatchEndpointMeta.decode(meta);
    assert.deepEqual(Object.keys(JSON.parse(new TextDecoder().decode(meta))), ["openai_org", "batch_id"]);
    assert.equal(decoded.openai_org, "org-flyte");

    // The upload: Batch API JSONL lines, one per request, to the configured endpoint.
    const upload = fake.seen("POST", /^\/v1\/files$/).at(-1)!;
    assert.equal((upload.body as { purpose: string }).purpose, "batch");
    const lines = (upload.body as { content: string }).content.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, REQUESTS.map((body, i) => ({ custom_id: `request-${i}`, method: "POST", url: "/v1/chat/completions", body })));
    assert.equal(upload.headers["openai-organization"], "org-flyte");

    const batch = batchOf(meta);
    assert.equal(batch["endpoint"], "/v1/chat/completions");
    assert.equal(batch["completion_window"], "24h");
    assert.equal(batch.metadata?.["team"], "ml");
    assert.match(batch.metadata?.[IDEMPOTENCY_METADATA_KEY] ?? "", /^flyte-[A-Za-z0-9_-]{43}$/);

    const phases: Phase[] = [];
    let resource = await get(meta);
    for (let i = 0; i < 10 && resource.phase !== Phase.SUCCEEDED; i++) {
      phases.push(resource.phase);
      resource = await get(meta);
    }
    assert.deepEqual(phases, [Phase.RUNNING, Phase.RUNNING]); // in_progress, finalizing (validating was create's state)
    assert.equal(resource.phase, Phase.SUCCEEDED);
    assert.equal(resource.message, "2/2 requests done, 0 failed");
    assert.deepEqual(resource.logLinks, [], "no OpenAI dashboard link for a non-OpenAI base URL");
    const { result } = (await outputsOf(resource)) as { result: Record<string, unknown> };
    assert.equal(result["id"], decoded.batch_id);
    assert.equal(result["status"], "completed");
    assert.match(String(result["output_file_id"]), /^file-/);
    assert.equal(result["error_file_id"], null);
  });

  test("inline requests that are full batch lines are uploaded as they are (method and url defaulted)", async () => {
    const line = { custom_id: "mine-1", body: { model: "text-embedding-3-small", input: "hi" } };
    const full = { custom_id: "mine-2", method: "POST", url: "/v1/embeddings", body: { model: "text-embedding-3-small", input: "ho" } };
    await create(requestsTask({ endpoint: "/v1/embeddings" }), { requests: [line, full] });
    const upload = fake.seen("POST", /^\/v1\/files$/).at(-1)!;
    const lines = (upload.body as { content: string }).content.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, [{ method: "POST", url: "/v1/embeddings", ...line }, full]);
  });

  test("a task serialized by Python passes input_file_id, which is used as is", async () => {
    const fileId = fake.addFile('{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}\n');
    const uploads = fake.seen("POST", /^\/v1\/files$/).length;
    const meta = await create(new BatchEndpointTask({ name: "py", config: { endpoint: "/v1/embeddings" } }), { input_file_id: fileId });
    assert.equal(fake.seen("POST", /^\/v1\/files$/).length, uploads, "nothing uploaded");
    assert.equal(batchOf(meta)["input_file_id"], fileId);
    assert.equal(batchOf(meta)["endpoint"], "/v1/embeddings");
    assert.equal(BatchEndpointMeta.decode(meta).openai_org, null);
  });

  test("a JSONL File at a local path is refused by the service (no --allow-local-files); batch-results.test.ts reads one on S3", async () => {
    const dir = await mkdtemp(join(tmpdir(), "openai-batch-"));
    try {
      const path = join(dir, "in.jsonl");
      await writeFile(path, '{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[]}}\n');
      const task = new BatchEndpointTask({ name: "f", input: "file" });
      const uploads = fake.seen("POST", /^\/v1\/files$/).length;
      for (const uri of [path, pathToFileURL(path).href]) {
        const refused = await rejectsWith(rpc.create(await createTaskRequest(task, { jsonl_in: new FlyteFile(uri) }, SECRETS)), STATUS.INVALID_ARGUMENT);
        assert.ok(refused.includes(`"${uri}"`), refused);
        assert.match(refused, /--allow-local-files/);
      }
      assert.equal(fake.seen("POST", /^\/v1\/files$/).length, uploads, "nothing uploaded");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("CreateTask is idempotent per attempt: a repeated create returns the same batch; the next attempt makes a new one", async () => {
    const attempt = { run: "idem", node: "a3", attempt: 0 };
    const first = await create(requestsTask(), { requests: REQUESTS }, attempt);
    const uploads = fake.seen("POST", /^\/v1\/files$/).length;
    const batches = fake.batches.size;
    const again = await create(requestsTask(), { requests: REQUESTS }, attempt);
    assert.equal(BatchEndpointMeta.decode(again).batch_id, BatchEndpointMeta.decode(first).batch_id);
    assert.equal(fake.batches.size, batches, "no second batch");
    assert.equal(fake.seen("POST", /^\/v1\/files$/).length, uploads, "no second upload");
    const retry = await create(requestsTask(), { requests: REQUESTS }, { ...attempt, attempt: 1 });
    assert.notEqual(BatchEndpointMeta.decode(retry).batch_id, BatchEndpointMeta.decode(first).batch_id);
  });

  test("a lost reply to POST /v1/batches is retried without creating a second batch", async () => {
    const batches = fake.batches.size;
    const posts = fake.seen("POST", /^\/v1\/batches$/).length;
    fake.fault({ method: "POST", path: /^\/v1\/batches$/, status: 502, times: 1, afterEffect: true });
    const meta = await create(requestsTask(), { requests: REQUESTS });
    assert.equal(fake.batches.size, batches + 1, "exactly one batch");
    assert.equal(fake.seen("POST", /^\/v1\/batches$/).length, posts + 1, "found by its metadata, not posted again");
    assert.equal(batchOf(meta).status, "validating");
  });

  test("without an attempt identity (no execution id, no output prefix) a 5xx on POST /v1/batches is not retried", async () => {
    const connector = new BatchEndpointConnector({ baseURL: fake.baseURL });
    const template = new BatchEndpointTask({ name: "anon" }).toTaskTemplate();
    const fileId = fake.addFile('{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}\n');
    const batches = fake.batches.size;
    fake.fault({ method: "POST", path: /^\/v1\/batches$/, status: 502, times: 1, afterEffect: true });
    try {
      const request = { taskTemplate: template, custom: template.custom ?? {}, inputs: { input_file_id: fileId }, outputPrefix: "", taskExecutionMetadata: undefined };
      await assert.rejects(connector.create({ ...request, secrets: SECRETS, configs: {}, signal: AbortSignal.timeout(10_000) }), { code: "UNAVAILABLE" });
    } finally {
      fake.clearFaults();
    }
    assert.equal(fake.batches.size, batches + 1, "the lost reply's batch exists once: no blind second POST");
  });

  test("a 429 on create is retried, then the batch is created once", async () => {
    const batches = fake.batches.size;
    fake.fault({ method: "POST", path: /^\/v1\/batches$/, status: 429, times: 1, headers: { "retry-after-ms": "10" } });
    const meta = await create(requestsTask(), { requests: REQUESTS });
    assert.equal(fake.batches.size, batches + 1);
    assert.ok(batchOf(meta));
  });

  test("a failed batch is FAILED with OpenAI's error message", async () => {
    const meta = await create(requestsTask({ metadata: { scenario: "fail" } }), { requests: REQUESTS });
    const resource = await get(meta);
    assert.equal(resource.phase, Phase.FAILED);
    assert.equal(resource.message, "This line is not parseable as valid JSON. (line 1)");
  });

  test("an expired batch is FAILED naming its partial progress; an unknown status keeps it RUNNING with a message", async () => {
    const expiring = await create(requestsTask({ metadata: { scenario: "expire" } }), { requests: REQUESTS });
    assert.equal((await get(expiring)).phase, Phase.RUNNING);
    const expired = await get(expiring);
    assert.equal(expired.phase, Phase.FAILED);
    assert.match(expired.message, /expired before finishing \(24h window\): 0\/2 requests done/);

    const weird = await create(requestsTask({ metadata: { scenario: "weird" } }), { requests: REQUESTS });
    const resource = await get(weird);
    assert.equal(resource.phase, Phase.RUNNING);
    assert.match(resource.message, /status this connector does not know: paused/);
  });

  test("persistent 503s on GET keep the last known phase with a message; polling resumes after", async () => {
    const meta = await create(requestsTask({ metadata: { scenario: "forever" } }), { requests: REQUESTS });
    assert.equal((await get(meta)).phase, Phase.RUNNING); // in_progress
    const polls = fake.seen("GET", /^\/v1\/batches\/batch_/).length;
    fake.fault({ method: "GET", path: /^\/v1\/batches\/batch_/, status: 503, headers: { "retry-after-ms": "5" } });
    try {
      const resource = await get(meta);
      assert.equal(resource.phase, Phase.RUNNING);
      assert.match(resource.message, /Status temporarily unavailable \(OpenAI is unavailable \(HTTP 503\)/);
      assert.equal(fake.seen("GET", /^\/v1\/batches\/batch_/).length - polls, 4, "one attempt and 3 client retries");
    } finally {
      fake.clearFaults();
    }
    const after = await get(meta);
    assert.equal(after.phase, Phase.RUNNING);
    assert.equal(after.message, "in_progress: 0/2 requests done, 0 failed");
  });

  test("an API that hangs: get answers the last known phase within the poll budget, not a deadline error", async () => {
    const hasty = new BatchEndpointConnector({ baseURL: fake.baseURL, pollBudget: 300 });
    const meta = BatchEndpointMeta.decode(await create(requestsTask({ metadata: { scenario: "forever" } }), { requests: REQUESTS }));
    const get = () => hasty.get({ secrets: SECRETS, configs: {}, signal: AbortSignal.timeout(10_000), resourceMeta: meta, outputPrefix: "" });
    assert.equal((await get()).phase, Phase.RUNNING);
    fake.fault({ method: "GET", path: /^\/v1\/batches\/batch_/, status: 0, hang: true, times: 1 });
    const started = Date.now();
    try {
      const during = await get();
      assert.ok(Date.now() - started < 5000, "well before the backend's 10 s deadline");
      assert.equal(during.phase, Phase.RUNNING);
      assert.match(during.message ?? "", /no answer within 0\.3 s/);
    } finally {
      fake.clearFaults();
    }
  });

  test("delete cancels a running batch; deleting again, a finished batch or an unknown one is OK", async () => {
    const meta = await create(requestsTask({ metadata: { scenario: "forever" } }), { requests: REQUESTS });
    await get(meta);
    await rpc.delete(TYPE, meta, SECRETS);
    const { batch_id } = BatchEndpointMeta.decode(meta);
    assert.deepEqual(fake.cancels.filter((id) => id === batch_id), [batch_id]);
    assert.equal(batchOf(meta).status, "cancelling");
    await rpc.delete(TYPE, meta, SECRETS); // cancelling: accepted again
    const cancelled = await get(meta);
    assert.equal(cancelled.phase, Phase.FAILED);
    assert.match(cancelled.message, /was cancelled/);
    await rpc.delete(TYPE, meta, SECRETS); // cancelled: 409, then seen finished

    // A completed batch.
    const done = await create(requestsTask(), { requests: REQUESTS });
    while ((await get(done)).phase !== Phase.SUCCEEDED);
    await rpc.delete(TYPE, done, SECRETS);
    assert.equal(batchOf(done).status, "completed");

    // Unknown and undecodable metas.
    await rpc.delete(TYPE, new BatchEndpointMeta({ openai_org: null, batch_id: "batch_nope" }).encode(), SECRETS);
    await rpc.delete(TYPE, new TextEncoder().encode("not json"), SECRETS);

    // A key rotated since the run (garbage collection of a finished task): OK rather than a finalizer blocked forever.
    await rpc.delete(TYPE, done, { openai_api_key: "sk-rotated-away-000000" });

    // A transient fault that outlasts the retries fails the delete, so the backend tries again later.
    const running = await create(requestsTask({ metadata: { scenario: "forever" } }), { requests: REQUESTS });
    fake.fault({ method: "POST", path: /\/cancel$/, status: 503, headers: { "retry-after-ms": "1" } });
    try {
      await rejectsWith(rpc.delete(TYPE, running, SECRETS), STATUS.UNAVAILABLE);
    } finally {
      fake.clearFaults();
    }
    await rpc.delete(TYPE, running, SECRETS);
    assert.equal(batchOf(running).status, "cancelling");
  });

  test("a wrong API key is FAILED_PRECONDITION on create, without the key", async () => {
    const wrong = "sk-wrong-BatchSecret777777";
    const details = await rejectsWith(rpc.create(await createTaskRequest(requestsTask(), { requests: REQUESTS }, { openai_api_key: wrong })), STATUS.FAILED_PRECONDITION);
    assert.match(details, /OpenAI rejected the API key \(HTTP 401/);
    assert.ok(!transcript.text().includes("sk-wrong") && !transcript.text().includes("7777"));
  });

  test("bad config and inputs are INVALID_ARGUMENT", async () => {
    const empty = await rejectsWith(rpc.create(await createTaskRequest(requestsTask(), { requests: [] }, SECRETS)), STATUS.INVALID_ARGUMENT);
    assert.match(empty, /requests must be a non-empty list/);
    const badFile = await rejectsWith(
      rpc.create(await createTaskRequest(new BatchEndpointTask({ name: "x" }), { input_file_id: "file-missing" }, SECRETS)),
      STATUS.INVALID_ARGUMENT,
    );
    assert.match(badFile, /Invalid 'input_file_id': 'file-missing'/);
  });

  test("a batch OpenAI refuses is INVALID_ARGUMENT with its message, and the file uploaded for it is deleted", async () => {
    const files = fake.files.size;
    const details = await rejectsWith(rpc.create(await createTaskRequest(requestsTask({ endpoint: "chat" }), { requests: REQUESTS }, SECRETS)), STATUS.INVALID_ARGUMENT);
    assert.match(details, /HTTP 400 \[invalid_value\]\): Invalid value for 'endpoint': 'chat'/);
    assert.equal(fake.seen("DELETE", /^\/v1\/files\//).length, 1);
    assert.equal(fake.files.size, files);
  });

  test("the API key never appears in any reply, error or resource meta", () => {
    assert.ok(transcript.entries.length > 20);
    assert.ok(!transcript.text().includes(KEY));
  });
});

describe("runTask", () => {
  test("runs a BatchEndpointTask locally to its result", async () => {
    const registry = new ConnectorRegistry().register(new BatchEndpointConnector({ baseURL: fake.baseURL }));
    const { result } = await runTask(requestsTask(), { requests: REQUESTS }, { registry, env: { OPENAI_KEY_ENV: KEY }, quiet: true, handleSigint: false, pollInterval: 1 });
    assert.equal((result as { status?: string }).status, "completed");
  });

  test("a failed batch rejects with its message", async () => {
    const registry = new ConnectorRegistry().register(new BatchEndpointConnector({ baseURL: fake.baseURL }));
    const error = await runTask(requestsTask({ metadata: { scenario: "fail" } }), { requests: REQUESTS }, {
      registry,
      env: { OPENAI_KEY_ENV: KEY },
      quiet: true,
      handleSigint: false,
      pollInterval: 1,
    }).catch((e: unknown) => e);
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.reason, "This line is not parseable as valid JSON. (line 1)");
  });
});
