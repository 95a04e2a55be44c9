import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { ConnectorRegistry, decodeOutputs, encodeInputs, FlyteFile, Phase, runTask, TaskFailedError, types } from "flyte-connectors";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import connectors from "./connectors.js";
import { HTTP_JOB_ALLOWED_ORIGINS_ENV, HttpJobConnector, HttpJobTask, type HttpJobTaskOptions } from "./index.js";
import { renderJson, renderUrl, valueAt } from "./template.js";

/*
 * A fake job service of the kind this connector targets (the seed's model-training service, generalized; its own
 * made-up API, no vendor documentation):
 * - POST /jobs {epochs, data, tags} → 201 {"job": {"id": "job-N"}}; an Idempotency-Key seen before → 200 with the same job.
 * - GET /jobs/<id> → {"status": queued | running | succeeded | failed | cancelled | <odd words>, "error"?, "result"?}:
 *   queued on the first poll, running on the second, then the outcome the submitted `data` scripts
 *   ("bad": failed, "forever": running, "odd": "hibernating", "custom": "ALL_GOOD"), else succeeded with a result.
 * - DELETE /jobs/<id> → 204; 404 unknown; 409 already finished.
 * - Bearer token required (401 echoes the header it got: the connector must not pass it on).
 */
const A = AsyncConnectorService.method;
const TOKEN = "svc-TOKEN-0123456789";
interface Job {
  id: string;
  body: Record<string, unknown>;
  polls: number;
  cancels: number;
  cancelled: boolean;
  key: string | undefined;
}
const jobs = new Map<string, Job>();
const keys = new Map<string, string>();
let faults: number[] = [];
let outage = false;
/** Leave status requests unanswered while set (a service that hangs). */
let hang = false;
let submits = 0;
let requestsSeen = 0;
let server: Server;
let base: string;

function send(response: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { "content-type": "application/json", ...headers }).end(body === undefined ? "" : JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function state(job: Job): Record<string, unknown> {
  if (job.cancelled) return { status: "cancelled", error: "cancelled by user" };
  if (job.polls <= 1) return { status: "queued" };
  const data = job.body["data"];
  if (job.polls === 2 || data === "forever") return { status: "running" };
  if (data === "bad") return { status: "failed", error: "dataset is empty" };
  if (data === "odd") return { status: "hibernating" };
  if (data === "perfect") return { status: "succeeded", result: { model_uri: `s3://models/${job.id}.pt`, accuracy: 1.0, epochs: job.body["epochs"], info: {} } };
  if (data === "custom") return { status: "ALL_GOOD", result: { model_uri: `s3://models/${job.id}.pt`, accuracy: 0.93, epochs: job.body["epochs"] } };
  return { status: "Succeeded", result: { model_uri: `s3://models/${job.id}.pt`, accuracy: 0.93, epochs: job.body["epochs"], info: { tags: job.body["tags"] } } };
}

async function handle(request: IncomingMessage, response: ServerResponse) {
  requestsSeen++;
  const fault = faults.shift();
  if (fault !== undefined) return send(response, fault, { error: "busy" }, { "retry-after": "0" });
  if (outage) return send(response, 503, { error: "maintenance" });
  if (request.headers.authorization !== `Bearer ${TOKEN}`) return send(response, 401, { error: `bad credentials: ${request.headers.authorization ?? ""}` });
  const path = request.url ?? "";
  if (hang && request.method === "GET") return; // never answers
  const moved = /^\/old\/jobs\/([^/]+)$/.exec(path);
  if (moved) return send(response, 302, undefined, { location: `/jobs/${moved[1]}` });
  if (request.method === "POST" && path === "/jobs") {
    submits++;
    const key = request.headers["idempotency-key"] as string | undefined;
    const existing = key ? keys.get(key) : undefined;
    if (existing) return send(response, 200, { job: { id: existing } });
    const body = await readBody(request);
    if (typeof body["epochs"] !== "number") return send(response, 422, { error: "epochs must be a number" });
    const job: Job = { id: `job-${jobs.size + 1}`, body, polls: 0, cancels: 0, cancelled: false, key };
    jobs.set(job.id, job);
    if (key) keys.set(key, job.id);
    return send(response, 201, { job: { id: job.id } });
  }
  const job = jobs.get(decodeURIComponent(/^\/jobs\/([^/]+)$/.exec(path)?.[1] ?? ""));
  if (!job) return send(response, 404, { error: "no such job" });
  if (request.method === "GET") {
    job.polls++;
    return send(response, 200, state(job));
  }
  if (request.method === "DELETE") {
    job.cancels++;
    const status = String(state(job)["status"]).toLowerCase();
    if (["succeeded", "failed", "cancelled"].includes(status)) return send(response, 409, { error: `job already ${status}` });
    job.cancelled = true;
    return send(response, 204);
  }
  send(response, 405, { error: "method not allowed" });
}

before(async () => {
  server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections(); // including the request left hanging on purpose
  server.close();
});
beforeEach(() => {
  faults = [];
  outage = false;
  hang = false;
});

const inputs = { epochs: types.int, data: types.string, tags: types.list(types.string) };
const outputs = { model: types.file, accuracy: types.float, epochs: types.int, info: types.struct };
const trainOptions = (overrides: Partial<HttpJobTaskOptions<typeof inputs, typeof outputs>> = {}): HttpJobTaskOptions<typeof inputs, typeof outputs> => ({
  name: "train",
  inputs,
  outputs,
  submit: { url: `${base}/jobs`, body: { epochs: "{{ inputs.epochs }}", data: "{{ inputs.data }}", tags: "{{ inputs.tags }}", note: "run of {{ inputs.data }}" } },
  jobIdPath: "job.id",
  status: { url: `${base}/jobs/{{ jobId }}` },
  outputPaths: { model: "/result/model_uri", accuracy: "/result/accuracy", epochs: "result.epochs", info: "/result/info" },
  cancel: { url: `${base}/jobs/{{ jobId }}` },
  auth: { header: "Authorization", secret: "api_token", scheme: "Bearer" },
  secrets: { api_token: "TRAIN_API_TOKEN" },
  logLinks: [{ name: "Job dashboard", url: `${base}/ui/jobs/{{ jobId }}` }],
  ...overrides,
});
const fastRetry = { retries: 3, minDelay: 1, maxDelay: 5 };
// The fake job service is on loopback, which the connector refuses unless an operator lists it.
const connector = () => new HttpJobConnector({ retry: fastRetry, allowedOrigins: [base] });
const decoder = new TextDecoder();

function executionMetadata(run: string, attempt = 0) {
  return { taskExecutionId: { nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name: run, org: "" } }, retryAttempt: attempt } };
}

describe("HTTP job connector through the gRPC service", () => {
  let service: TestService;
  before(async () => {
    service = await serveForTest([connector()]);
  });
  after(() => service.close());

  const category = { name: "http_job", version: 0 };
  const connection = { secrets: { api_token: TOKEN } };
  const create = async (data: string, run: string, attempt = 0, task = new HttpJobTask(trainOptions())) =>
    (
      await service.client.unary(A.createTask, {
        template: task.toTaskTemplate(),
        inputs: await encodeInputs({ epochs: 3, data, tags: ["a", "b"] }, inputs),
        outputPrefix: `s3://bucket/shard/${run}/a0/${attempt + 1}`,
        taskExecutionMetadata: executionMetadata(run, attempt),
        connection,
      })
    ).resourceMeta;
  const get = async (resourceMeta: Uint8Array) => (await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, outputPrefix: "s3://x/1", connection })).resource!;
  const del = (resourceMeta: Uint8Array) => service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection });
  const jobOf = (meta: Uint8Array) => jobs.get((JSON.parse(decoder.decode(meta)) as { job_id: string }).job_id)!;
  const until = async (meta: Uint8Array, done: (phase: Phase) => boolean) => {
    const phases: Phase[] = [];
    let resource = await get(meta);
    phases.push(resource.phase);
    while (!done(resource.phase) && phases.length < 10) phases.push((resource = await get(meta)).phase);
    return { resource, phases };
  };

  test("success: the body is rendered from inputs, phases follow the status words, outputs come from the final status", async () => {
    const meta = await create("gs://d/ok.csv", "run-ok");
    const job = jobOf(meta);
    assert.deepEqual(job.body, { epochs: 3, data: "gs://d/ok.csv", tags: ["a", "b"], note: "run of gs://d/ok.csv" });
    assert.match(job.key ?? "", /^flyte-[A-Za-z0-9_-]{43}$/);
    const { resource, phases } = await until(meta, (p) => p === Phase.SUCCEEDED);
    assert.deepEqual(phases, [Phase.QUEUED, Phase.RUNNING, Phase.SUCCEEDED]);
    assert.deepEqual(resource.logLinks.map((l) => [l.name, l.uri]), [["Job dashboard", `${base}/ui/jobs/${job.id}`]]);
    const values = await decodeOutputs(resource.outputs);
    assert.ok(values["model"] instanceof FlyteFile);
    assert.equal(values["model"].uri, `s3://models/${job.id}.pt`);
    assert.equal(values["accuracy"], 0.93);
    assert.equal(values["epochs"], 3);
    assert.deepEqual(values["info"], { tags: ["a", "b"] });
  });

  test("a failed job is FAILED with the service's error message", async () => {
    const { resource } = await until(await create("bad", "run-bad"), (p) => p === Phase.FAILED);
    assert.equal(resource.phase, Phase.FAILED);
    assert.match(resource.message, /failed: dataset is empty/);
  });

  test("a float output whose JSON value is integral (1.0) is still a float literal", async () => {
    const { resource } = await until(await create("perfect", "run-perfect"), (p) => p === Phase.SUCCEEDED);
    const literal = resource.outputs?.literals.find((l) => l.name === "accuracy")?.value;
    const scalar = literal?.value.case === "scalar" ? literal.value.value.value : undefined;
    const primitive = scalar?.case === "primitive" ? scalar.value.value : undefined;
    assert.deepEqual(primitive, { case: "floatValue", value: 1 });
    const epochs = resource.outputs?.literals.find((l) => l.name === "epochs")?.value;
    assert.equal(epochs?.value.case === "scalar" && epochs.value.value.value.case === "primitive" ? epochs.value.value.value.value.value.case : undefined, "integer");
  });

  test("a redirect is not followed (the auth header would go along): the call fails naming the 3xx", async () => {
    const meta = await create("forever", "run-redirect", 0, new HttpJobTask(trainOptions({ status: { url: `${base}/old/jobs/{{ jobId }}` } })));
    await assert.rejects(get(meta), (e: { code: number; details: string }) => {
      assert.equal(e.code, 9, e.details); // FAILED_PRECONDITION
      assert.match(e.details, /status request failed: HTTP 302/);
      return true;
    });
    assert.equal(jobOf(meta).polls, 0, "the redirect's target was not polled");
    await del(meta);
  });

  test("an unknown status word stays RUNNING with a message; status.phases maps custom words", async () => {
    const meta = await create("odd", "run-odd");
    const { resource } = await until(meta, () => false);
    assert.equal(resource.phase, Phase.RUNNING);
    assert.match(resource.message, /Unknown job status "hibernating"/);
    const custom = new HttpJobTask(trainOptions({ status: { url: `${base}/jobs/{{ jobId }}`, phases: { all_good: "SUCCEEDED" } }, outputs: { model: types.file } as never, outputPaths: { model: "/result/model_uri" } as never }));
    const done = await until(await create("custom", "run-custom", 0, custom), (p) => p === Phase.SUCCEEDED);
    assert.equal(done.resource.phase, Phase.SUCCEEDED);
  });

  test("delete cancels a running job; again, or for a finished or unknown job, it is OK", async () => {
    const meta = await create("forever", "run-cancel");
    await until(meta, (p) => p === Phase.RUNNING);
    await del(meta);
    const job = jobOf(meta);
    assert.equal(job.cancels, 1);
    assert.equal((await get(meta)).phase, Phase.FAILED);
    await del(meta); // 409: already cancelled
    const finished = await create("gs://d/ok.csv", "run-finished");
    await until(finished, (p) => p === Phase.SUCCEEDED);
    await del(finished); // 409: already succeeded
    const unknown = new TextEncoder().encode(decoder.decode(meta).replace(job.id, "job-404"));
    await del(unknown); // 404
  });

  test("a retried CreateTask for the same attempt returns the same job; the next attempt a new one", async () => {
    const count = jobs.size;
    const first = await create("forever", "run-idem");
    const again = await create("forever", "run-idem");
    assert.equal(decoder.decode(again), decoder.decode(first));
    assert.equal(jobs.size, count + 1);
    const next = await create("forever", "run-idem", 1);
    assert.notEqual(decoder.decode(next), decoder.decode(first));
    assert.equal(jobs.size, count + 2);
    await Promise.all([del(first), del(next)]);
  });

  test("429 and 503 are retried within a call; a persistent outage keeps get at the last phase with a message", async () => {
    const [submitsBefore, seenBefore] = [submits, requestsSeen];
    faults = [429, 503];
    const meta = await create("forever", "run-faults");
    assert.equal(requestsSeen - seenBefore, 3);
    assert.equal(submits - submitsBefore, 1);
    faults = [503, 503];
    assert.equal((await get(meta)).phase, Phase.QUEUED);
    assert.equal((await get(meta)).phase, Phase.RUNNING);
    outage = true;
    const during = await get(meta);
    assert.equal(during.phase, Phase.RUNNING);
    assert.match(during.message, /temporarily unavailable.*503/i);
    await assert.rejects(create("forever", "run-faults-2"), (e: { code: number; details: string }) => e.code === 14 && /HTTP 503: maintenance/.test(e.details));
    outage = false;
    await del(meta);
  });

  test("bad config is INVALID_ARGUMENT naming the key; a service's 422 is INVALID_ARGUMENT with its message", async () => {
    const template = new HttpJobTask(trainOptions()).toTaskTemplate();
    const bad = async (custom: Record<string, unknown>, pattern: RegExp) => {
      await assert.rejects(
        service.client.unary(A.createTask, {
          template: { ...template, custom: { ...template.custom, ...custom } as never },
          // Valid inputs (the interface is checked before the config), so only the config is wrong.
          inputs: await encodeInputs({ epochs: 3, data: "x", tags: [] }, inputs),
          outputPrefix: "s3://b/x/1",
          connection,
        }),
        (e: { code: number; details: string }) => {
          assert.equal(e.code, 3, e.details);
          assert.match(e.details, pattern);
          return true;
        },
      );
    };
    await bad({ submit: null }, /custom\.submit is missing/);
    await bad({ submit: { url: "ftp://x/jobs" } }, /custom\.submit\.url must be an http/);
    await bad({ submit: { url: `${base}/jobs`, body: { n: "{{ inputs.nope }}" } } }, /custom\.submit\.body references \{\{ inputs\.nope \}\}, but the task has no input "nope"/);
    await bad({ status: { url: `${base}/jobs/{{ inputs.data }}` } }, /custom\.status\.url references \{\{ inputs\.data \}\}; here only jobId/);
    await bad({ status: { url: `${base}/jobs` } }, /custom\.status\.url must contain \{\{ jobId \}\}/);
    await bad({ status: { url: `${base}/jobs/query`, method: "POST", body: { all: true } } }, /custom\.status\.url must contain \{\{ jobId \}\} \(or status\.body must name the job\)/);
    await bad({ status: { url: `${base}/jobs/{{ jobId }}`, phases: { ok: "DONE" } } }, /custom\.status\.phases\.ok must be one of/);
    await bad({ submit: { url: `${base}/jobs`, headers: { Authorization: "Bearer x" } } }, /custom\.submit\.headers\.Authorization would put a credential/);
    await bad({ submit: { url: "http://169.254.169.254/latest/meta-data" } }, /may not call http:\/\/169\.254\.169\.254/);
    await bad({ submit: { url: "http://[::ffff:169.254.169.254]/latest/meta-data" } }, /may not call http:\/\/\[::ffff:a9fe:a9fe\]/);
    await bad({ cancel: { url: "http://metadata.google.internal/computeMetadata/v1/{{ jobId }}" } }, /custom\.cancel\.url: the connector may not call/);
    await bad({ submit: { url: `${base}/jobs`, body: { epochs: "many" } } }, /HTTP 422: epochs must be a number/);
  });

  test("the secret never appears in replies, errors or meta", async () => {
    const meta = await create("gs://d/ok.csv", "run-secret");
    assert.ok(!decoder.decode(meta).includes(TOKEN));
    assert.match(decoder.decode(meta), /"secret": "api_token"/, "the meta names the secret, never its value");
    const { resource } = await until(meta, (p) => p === Phase.SUCCEEDED);
    assert.ok(!JSON.stringify(resource, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes(TOKEN));
    const wrong = "svc-WRONG-9876543210";
    const task = new HttpJobTask(trainOptions());
    await assert.rejects(
      service.client.unary(A.createTask, {
        template: task.toTaskTemplate(),
        inputs: await encodeInputs({ epochs: 3, data: "x", tags: [] }, inputs),
        outputPrefix: "s3://b/secret/1",
        connection: { secrets: { api_token: wrong } },
      }),
      (e: { code: number; details: string }) => {
        assert.equal(e.code, 9, e.details); // FAILED_PRECONDITION
        assert.match(e.details, /HTTP 401: bad credentials: Bearer \*\*\*\*\*/);
        assert.ok(!e.details.includes(wrong));
        return true;
      },
    );
    await assert.rejects(
      service.client.unary(A.getTask, { taskCategory: category, resourceMeta: meta, connection: { secrets: {} } }),
      (e: { code: number; details: string }) => e.code === 9 && /Secret "api_token"/.test(e.details),
    );
  });
});

test("templates: whole references keep JSON types, inline ones become text, URL parts are encoded", () => {
  const scope = { inputs: { n: 3n, big: 2n ** 60n, s: "a b/c", cfg: { lr: 0.1 } }, jobId: "x/y" };
  assert.deepEqual(renderJson({ n: "{{ inputs.n }}", big: "{{inputs.big}}", lr: "{{ inputs.cfg.lr }}", t: "n={{ inputs.n }}", cfg: "{{ inputs.cfg }}" }, scope, "body"), {
    n: 3,
    big: "1152921504606846976",
    lr: 0.1,
    t: "n=3",
    cfg: { lr: 0.1 },
  });
  assert.equal(renderUrl("https://h/jobs/{{ jobId }}?q={{ inputs.s }}", scope, "url"), "https://h/jobs/x%2Fy?q=a%20b%2Fc");
  assert.equal(valueAt({ a: { "b/c": [1, { d: 2 }] } }, "/a/b~1c/1/d"), 2);
  assert.equal(valueAt({ a: { b: [5] } }, "a.b.0"), 5);
});

test("the default export serves task type http_job", () => {
  assert.deepEqual(connectors.map((c) => c.taskTypeName), ["http_job"]);
});

test("HttpJobTask validates its config when declared", () => {
  assert.throws(() => new HttpJobTask(trainOptions({ outputPaths: { model: "/m" } as never })), /output "accuracy" needs a path/);
  assert.throws(() => new HttpJobTask(trainOptions({ secrets: {} })), /auth\.secret "api_token" must be a key of secrets/);
  assert.throws(() => new HttpJobTask(trainOptions({ jobIdPath: 5 as never })), /custom\.jobIdPath must be a string/);
});

test("HttpJobTask runs end to end through runTask, with the token from the environment", async () => {
  process.env["TRAIN_API_TOKEN"] = TOKEN;
  try {
    const registry = new ConnectorRegistry().register(connector());
    const task = new HttpJobTask(trainOptions());
    const result = await runTask(task, { epochs: 5, data: "gs://d/local.csv", tags: ["x"] }, { registry, pollInterval: 5, quiet: true, handleSigint: false });
    assert.ok(result.model instanceof FlyteFile);
    assert.match(result.model.uri, /^s3:\/\/models\/job-\d+\.pt$/);
    assert.equal(result.epochs, 5);
    const error = await runTask(task, { epochs: 1, data: "bad", tags: [] }, { registry, pollInterval: 5, quiet: true, handleSigint: false }).catch((e: unknown) => e);
    assert.ok(error instanceof TaskFailedError);
    assert.match(error.reason ?? "", /dataset is empty/);
  } finally {
    delete process.env["TRAIN_API_TOKEN"];
  }
});

test("allowedOrigins: only the listed origins may be called", async () => {
  const task = new HttpJobTask(trainOptions());
  const template = task.toTaskTemplate();
  const request = {
    taskTemplate: template,
    custom: template.custom ?? {},
    inputs: { epochs: 1, data: "forever", tags: [] },
    outputPrefix: "s3://b/origins/1",
    taskExecutionMetadata: undefined,
    secrets: { api_token: TOKEN },
    configs: {},
    signal: AbortSignal.timeout(5000),
  };
  await assert.rejects(new HttpJobConnector({ allowedOrigins: ["https://jobs.example.com"] }).create(request), /custom\.status\.url: the connector may not call http:\/\/127\.0\.0\.1/);
  const meta = await new HttpJobConnector({ allowedOrigins: [base], retry: fastRetry }).create(request);
  assert.match(meta.job_id, /^job-\d+$/);
  // Without the option, the deployment's environment variable lists them (as `serve` constructs the connector).
  process.env[HTTP_JOB_ALLOWED_ORIGINS_ENV] = `https://jobs.example.com, ${base}`;
  try {
    assert.match((await new HttpJobConnector({ retry: fastRetry }).create(request)).job_id, /^job-\d+$/);
    process.env[HTTP_JOB_ALLOWED_ORIGINS_ENV] = "https://jobs.example.com";
    await assert.rejects(new HttpJobConnector().create(request), /custom\.status\.url: the connector may not call http:\/\/127\.0\.0\.1.*not in allowedOrigins/);
    process.env[HTTP_JOB_ALLOWED_ORIGINS_ENV] = "jobs.example.com:x";
    assert.throws(() => new HttpJobConnector(), /FLYTE_HTTP_JOB_ALLOWED_ORIGINS: "jobs\.example\.com:x" is not an origin/);
  } finally {
    delete process.env[HTTP_JOB_ALLOWED_ORIGINS_ENV];
  }
});

test("a job service that hangs: get answers the last known phase within the poll budget, not a deadline error", async () => {
  const hasty = new HttpJobConnector({ retry: fastRetry, pollBudget: 300, allowedOrigins: [base] });
  const task = new HttpJobTask(trainOptions());
  const template = task.toTaskTemplate();
  const call = { secrets: { api_token: TOKEN }, configs: {}, signal: AbortSignal.timeout(10_000) };
  const meta = await hasty.create({ ...call, taskTemplate: template, custom: template.custom ?? {}, inputs: { epochs: 1, data: "forever", tags: [] }, outputPrefix: "s3://b/hang/1", taskExecutionMetadata: undefined });
  const get = () => hasty.get({ ...call, resourceMeta: meta, outputPrefix: "s3://b/hang/1" });
  assert.equal((await get()).phase, Phase.QUEUED);
  hang = true;
  const started = Date.now();
  const during = await get();
  assert.ok(Date.now() - started < 5000, "well before the backend's 10 s deadline");
  assert.equal(during.phase, Phase.QUEUED);
  assert.match(during.message ?? "", /Status temporarily unavailable \(no answer within 0\.3 s\)/);
  assert.deepEqual(during.logLinks?.map((l) => l.name), ["Job dashboard"]);
  hang = false;
  assert.equal((await get()).phase, Phase.RUNNING);
  await hasty.delete({ ...call, resourceMeta: meta, outputPrefix: "" });
});

test("SSRF: by default every loopback, unspecified, link-local and metadata spelling is refused, private ranges are not", async () => {
  const task = new HttpJobTask(trainOptions());
  const template = task.toTaskTemplate();
  const call = { secrets: { api_token: TOKEN }, configs: {}, signal: AbortSignal.timeout(5000), taskExecutionMetadata: undefined, outputPrefix: "s3://b/ssrf/1" };
  // The URLs not under test point at an in-cluster address (checked, never called: the bad URL fails first).
  const inCluster = { submit: { url: "http://10.0.0.1/jobs" }, status: { url: "http://10.0.0.1/jobs/{{ jobId }}" }, cancel: { url: "http://10.0.0.1/jobs/{{ jobId }}" } };
  const createWith = (connector: HttpJobConnector, custom: Record<string, unknown>) =>
    connector.create({ ...call, taskTemplate: template, custom: { ...template.custom, ...inCluster, ...custom }, inputs: { epochs: 1, data: "x", tags: [] } });
  const guarded = new HttpJobConnector({ retry: { retries: 0 } });
  const port = new URL(base).port;
  const hosts = [
    "127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "0.0.0.0", "localhost", "[::1]", "127.0.0.1",
    "metadata", "instance-data", "100.100.100.200", "168.63.129.16", "[::a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]",
    "[::ffff:0:a9fe:a9fe]", "169.254.169.254", "metadata.google.internal", "[fe80::1]",
  ];
  const seen = requestsSeen;
  for (const host of hosts) {
    for (const key of ["submit", "status", "cancel"] as const) {
      const url = `http://${host}:${port}/jobs${key === "submit" ? "" : "/{{ jobId }}"}`;
      await assert.rejects(createWith(guarded, { [key]: { url } }), (e: { code?: string; message: string }) => {
        assert.equal(e.code, "INVALID_ARGUMENT", `${key} ${host}: ${e.message}`);
        assert.match(e.message, new RegExp(`^custom\\.${key}\\.url: the connector may not call http://`), `${key} ${host}`);
        return true;
      });
    }
  }
  assert.equal(requestsSeen, seen, "no request reached the connector pod's own loopback");
  // An operator may list the loopback fake explicitly.
  const loopback = { submit: { url: `${base}/jobs`, body: { epochs: 1, data: "forever", tags: [] } }, status: { url: `${base}/jobs/{{ jobId }}` }, cancel: { url: `${base}/jobs/{{ jobId }}` } };
  assert.match((await createWith(new HttpJobConnector({ allowedOrigins: [base], retry: fastRetry }), loopback)).job_id, /^job-\d+$/);
});

test("secrets: redacted before truncation and in JSON-escaped, URL-encoded and base64 forms, in errors, messages and log links", async () => {
  // A token with characters that JSON, URLs and base64 each spell differently.
  const secret = 'tok"en/+\\0123456789-abcdefghijklmnop';
  const forms = [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), Buffer.from(secret).toString("base64"), Buffer.from(`user:${secret}`).toString("base64")];
  const leaky = createServer((request, response) => {
    const url = request.url ?? "";
    if (request.method === "POST" && url === "/plain") {
      // Not JSON; the token straddles the 300-character cut of the reply text.
      return response.writeHead(401).end(`${"x".repeat(290)} token=${secret} rejected`);
    }
    if (request.method === "POST" && url === "/json") {
      return send(response, 403, { error: `${"y".repeat(480)} ${secret}` }); // straddles the 500-character cut
    }
    if (request.method === "POST") return send(response, 201, { id: `j-${secret}` }); // a job id that carries the token
    const detail = forms.map((form, i) => `form${i}=${form}`).join(" ");
    return send(response, 200, { status: "failed", error: { detail } }); // a JSON object: quoted with escapes
  });
  await new Promise<void>((resolve) => leaky.listen(0, "127.0.0.1", resolve));
  const leakyBase = `http://127.0.0.1:${(leaky.address() as AddressInfo).port}`;
  const service = await serveForTest([new HttpJobConnector({ allowedOrigins: [leakyBase], retry: { retries: 0 } })]);
  try {
    const task = (submitPath: string) =>
      new HttpJobTask(
        trainOptions({
          submit: { url: `${leakyBase}${submitPath}` },
          jobIdPath: "/id",
          status: { url: `${leakyBase}/jobs/{{ jobId }}` },
          cancel: undefined,
          logLinks: [{ name: "Job", url: `${leakyBase}/ui/{{ jobId }}` }],
        }),
      );
    const connection = { secrets: { api_token: secret } };
    const createCall = async (submitPath: string) =>
      service.client.unary(A.createTask, {
        template: task(submitPath).toTaskTemplate(),
        inputs: await encodeInputs({ epochs: 1, data: "x", tags: [] }, inputs),
        outputPrefix: "s3://b/leak/1",
        connection,
      });
    const leaks = (text: string) => forms.filter((form) => text.includes(form)).concat(text.includes(secret.slice(0, 6)) ? ["the token's start"] : []);
    for (const path of ["/plain", "/json"]) {
      const error = (await createCall(path).catch((e: unknown) => e)) as { code: number; details: string };
      assert.equal(error.code, 9, error.details);
      assert.deepEqual(leaks(error.details), [], `${path}: ${error.details}`);
    }
    const meta = (await createCall("/jobs")).resourceMeta;
    const resource = (await service.client.unary(A.getTask, { taskCategory: { name: "http_job", version: 0 }, resourceMeta: meta, connection })).resource!;
    assert.equal(resource.phase, Phase.FAILED);
    assert.match(resource.message, /form0=\*{5} form1=\*{5} form2=\*{5} form3=\*{5} form4=.*\*{5}/);
    assert.deepEqual(leaks(resource.message), [], resource.message);
    assert.equal(resource.logLinks.length, 1);
    assert.deepEqual(leaks(resource.logLinks[0]!.uri), [], resource.logLinks[0]!.uri);
  } finally {
    await service.close();
    leaky.close();
  }
});
