import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { ConnectorRegistry, Phase, runTask, TaskFailedError } from "flyte-connectors";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import connectors from "./connectors.js";
import { DatabricksConnector, DatabricksJobMetadata, DatabricksTask, type DatabricksTaskOptions } from "./index.js";

type JsonObject = DatabricksTaskOptions["databricksConf"];
import { runPhase } from "./run-state.js";

/*
 * A fake of the Databricks Jobs API 2.1, following the documented request/response shapes
 * (docs.databricks.com/api/workspace/jobs_21: runs/submit, runs/get, runs/cancel; as documented in 2024-2025):
 * - POST /api/2.1/jobs/runs/submit → {"run_id": <int64>}. `idempotency_token` (≤ 64 chars): "If a run with the
 *   provided token already exists, the request does not create a new run but returns the ID of the existing run".
 * - GET /api/2.1/jobs/runs/get?run_id= → Run {job_id, run_id, run_name, run_page_url, state {life_cycle_state,
 *   result_state, state_message, user_cancelled_or_timedout}}.
 * - POST /api/2.1/jobs/runs/cancel {"run_id"} → {} (a no-op for a finished run).
 * - Errors: {"error_code": "...", "message": "..."}; an unknown run is 400 INVALID_PARAMETER_VALUE "Run <id> does not exist.";
 *   a bad token is 401.
 * The run's `run_name` scripts its course: "fail", "forever", "weird" (an undocumented state), else success after
 * PENDING and RUNNING.
 */
const TOKEN = "dapi-SECRET-0123456789abcdef";
interface FakeRun {
  run_id: number;
  job_id: number;
  body: Record<string, unknown>;
  polls: number;
  cancels: number;
  cancelled: boolean;
}
const runs = new Map<number, FakeRun>();
const tokens = new Map<string, number>();
/** Statuses to answer the next requests with, before handling them (transient faults). */
let faults: number[] = [];
/** Answer every request with 503 while set. */
let outage = false;
/** Leave runs/get unanswered while set (a workspace that hangs). */
let hang = false;
const requests: Array<{ method: string; path: string; authorization: string | undefined }> = [];
let server: Server;
let instance: string;

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function runState(run: FakeRun) {
  const name = run.body["run_name"];
  if (run.cancelled) return { life_cycle_state: "TERMINATED", result_state: "CANCELED", state_message: "Run cancelled.", user_cancelled_or_timedout: true };
  if (name === "weird") return { life_cycle_state: "HIBERNATING", state_message: "" };
  if (run.polls <= 1) return { life_cycle_state: "PENDING", state_message: "Waiting for cluster" };
  if (run.polls === 2 || name === "forever") return { life_cycle_state: "RUNNING", state_message: "In run" };
  if (name === "fail") return { life_cycle_state: "TERMINATED", result_state: "FAILED", state_message: "Task main failed with message: ZeroDivisionError." };
  return { life_cycle_state: "TERMINATED", result_state: "SUCCESS", state_message: "" };
}

async function handle(request: IncomingMessage, response: ServerResponse) {
  const url = new URL(request.url ?? "/", "http://fake");
  requests.push({ method: request.method ?? "", path: url.pathname, authorization: request.headers.authorization });
  const fault = faults.shift();
  if (fault !== undefined) return send(response, fault, { error_code: "TEMPORARILY_UNAVAILABLE", message: "try later" }, { "retry-after": "0" });
  if (outage) return send(response, 503, { error_code: "TEMPORARILY_UNAVAILABLE", message: "maintenance" });
  if (hang && url.pathname === "/api/2.1/jobs/runs/get") return; // never answers
  if (request.headers.authorization !== `Bearer ${TOKEN}`) {
    // A careless upstream that echoes the credential: the connector must not pass it on.
    return send(response, 401, { error_code: "UNAUTHENTICATED", message: `Invalid access token ${request.headers.authorization ?? ""}` });
  }
  if (request.method === "POST" && url.pathname === "/api/2.1/jobs/runs/submit") {
    const body = await readBody(request);
    if (body["run_name"] === "echo") return send(response, 400, { error_code: "INVALID_PARAMETER_VALUE", message: `Bad spec submitted with ${request.headers.authorization}` });
    if (!body["new_cluster"] && !body["existing_cluster_id"] && !Array.isArray(body["tasks"])) {
      return send(response, 400, { error_code: "INVALID_PARAMETER_VALUE", message: "One of new_cluster or existing_cluster_id must be specified." });
    }
    const token = body["idempotency_token"];
    if (typeof token === "string" && token.length > 64) return send(response, 400, { error_code: "INVALID_PARAMETER_VALUE", message: "idempotency_token too long" });
    const existing = typeof token === "string" ? tokens.get(token) : undefined;
    if (existing !== undefined) return send(response, 200, { run_id: existing });
    const run: FakeRun = { run_id: 7_000_000_000 + runs.size, job_id: 900 + runs.size, body, polls: 0, cancels: 0, cancelled: false };
    runs.set(run.run_id, run);
    if (typeof token === "string") tokens.set(token, run.run_id);
    return send(response, 200, { run_id: run.run_id });
  }
  if (request.method === "GET" && url.pathname === "/api/2.1/jobs/runs/get") {
    const run = runs.get(Number(url.searchParams.get("run_id")));
    if (!run) return send(response, 400, { error_code: "INVALID_PARAMETER_VALUE", message: `Run ${url.searchParams.get("run_id")} does not exist.` });
    run.polls++;
    return send(response, 200, {
      job_id: run.job_id,
      run_id: run.run_id,
      run_name: run.body["run_name"],
      run_page_url: `https://dbc-test.example.com/?o=1#job/${run.job_id}/run/${run.run_id}`,
      state: runState(run),
    });
  }
  if (request.method === "POST" && url.pathname === "/api/2.1/jobs/runs/cancel") {
    const { run_id } = await readBody(request);
    const run = runs.get(Number(run_id));
    if (!run) return send(response, 400, { error_code: "INVALID_PARAMETER_VALUE", message: `Run ${String(run_id)} does not exist.` });
    run.cancels++;
    if (runState(run).life_cycle_state !== "TERMINATED") run.cancelled = true;
    return send(response, 200, {});
  }
  send(response, 404, { error_code: "ENDPOINT_NOT_FOUND", message: "No API found" });
}

before(async () => {
  server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  instance = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections(); // including a request left hanging on purpose
  server.close();
});
beforeEach(() => {
  faults = [];
  outage = false;
  hang = false;
});

const A = AsyncConnectorService.method;
const fastRetry = { retries: 3, minDelay: 1, maxDelay: 5 };
// The fake listens on loopback, which the URL policy refuses unless the operator lists it.
const connector = () => new DatabricksConnector({ insecureHttp: true, retry: fastRetry, allowedOrigins: [`http://${instance}`] });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The task execution identity the backend sends with CreateTask. */
function executionMetadata(run: string, attempt = 0) {
  return {
    taskExecutionId: {
      nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name: run, org: "o" } },
      retryAttempt: attempt,
    },
  };
}

/** A CreateTask request shaped as the backend sends it for a task serialized by flyte-sdk's Databricks plugin. */
function createRequest(databricksConf: JsonObject, run: string, attempt = 0) {
  return {
    template: {
      id: { name: "etl" },
      type: "databricks",
      custom: {
        sparkConf: { "spark.executor.memory": "4g" },
        mainApplicationFile: "local:///opt/venv/bin/runtime.py",
        executorPath: "/opt/venv/bin/python",
        databricksConf,
        databricksInstance: instance,
        secrets: { databricks_token: "DATABRICKS_TOKEN" },
      },
      target: {
        case: "container" as const,
        value: { image: "ghcr.io/acme/pyspark:1", args: ["a0", "--inputs", "s3://b/in.pb"], env: [{ key: "FLYTE_X", value: "1" }] },
      },
    },
    outputPrefix: `s3://bucket/shard/${run}/a0/${attempt + 1}`,
    taskExecutionMetadata: executionMetadata(run, attempt),
    connection: { secrets: { databricks_token: TOKEN } },
  };
}

const category = { name: "databricks", version: 0 };
const newCluster = { spark_version: "13.3.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 2 };

describe("Databricks connector through the gRPC service", () => {
  let service: TestService;
  before(async () => {
    service = await serveForTest([connector()]);
  });
  after(() => service.close());

  const create = async (conf: JsonObject, run: string, attempt = 0) =>
    (await service.client.unary(A.createTask, createRequest(conf, run, attempt))).resourceMeta;
  const get = async (resourceMeta: Uint8Array) =>
    (await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, outputPrefix: "s3://x/1", connection: { secrets: { databricks_token: TOKEN } } })).resource!;
  const del = (resourceMeta: Uint8Array) =>
    service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta, connection: { secrets: { databricks_token: TOKEN } } });
  const runOf = (meta: Uint8Array) => runs.get(Number((JSON.parse(decoder.decode(meta)) as { run_id: string }).run_id))!;

  test("a Python-serialized task: submits the run as the Python connector does, then PENDING → RUNNING → SUCCEEDED", async () => {
    const meta = await create({ run_name: "ok", new_cluster: { ...newCluster } }, "run-ok");
    const run = runOf(meta);
    // Meta bytes as Python's json.dumps(asdict(DatabricksJobMetadata)) writes them.
    assert.equal(decoder.decode(meta), `{"databricks_instance": "${instance}", "run_id": "${run.run_id}"}`);
    const { idempotency_token, ...body } = run.body;
    assert.deepEqual(body, {
      run_name: "ok",
      new_cluster: {
        ...newCluster,
        docker_image: { url: "ghcr.io/acme/pyspark:1" },
        spark_conf: { "spark.executor.memory": "4g" },
        spark_env_vars: { FLYTE_X: "1" },
      },
      spark_python_task: { python_file: "flyteplugins/databricks/entrypoint.py", parameters: ["a0", "--inputs", "s3://b/in.pb"], source: "GIT" },
      git_source: { git_url: "https://github.com/flyteorg/flytetools", git_provider: "gitHub", git_commit: "194364210c47c49ce66c419e8fb68d6f9c06fd7e" },
    });
    assert.equal(typeof idempotency_token, "string");
    assert.ok((idempotency_token as string).length <= 64);

    const phases: Phase[] = [];
    let resource = await get(meta);
    phases.push(resource.phase);
    while (resource.phase !== Phase.SUCCEEDED && phases.length < 10) phases.push((resource = await get(meta)).phase);
    assert.deepEqual(phases, [Phase.INITIALIZING, Phase.RUNNING, Phase.SUCCEEDED]);
    assert.deepEqual(resource.logLinks.map((l) => [l.name, l.uri]), [["Databricks Console", `https://dbc-test.example.com/?o=1#job/${run.job_id}/run/${run.run_id}`]]);
    assert.equal(resource.outputs, undefined, "outputs are written by the Python entrypoint, as with the Python connector");
  });

  test("without a task secret the deployment's FLYTE_DATABRICKS_ACCESS_TOKEN is used, as by the Python connector", async (t) => {
    const { connection: _, ...withoutSecret } = createRequest({ run_name: "deployment-token", existing_cluster_id: "0101-abc" }, "run-deployment-token");
    await assert.rejects(service.client.unary(A.createTask, withoutSecret), (error: { code: number; details: string }) => {
      assert.equal(error.code, 9, "FAILED_PRECONDITION");
      assert.match(error.details, /custom\.secrets\.databricks_token.*FLYTE_DATABRICKS_ACCESS_TOKEN/);
      return true;
    });
    process.env["_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN"] = TOKEN;
    t.after(() => delete process.env["_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN"]);
    const { resourceMeta } = await service.client.unary(A.createTask, withoutSecret);
    assert.equal(runOf(resourceMeta).body["run_name"], "deployment-token");
  });

  test("a failed run is FAILED with Databricks' state message", async () => {
    const meta = await create({ run_name: "fail", existing_cluster_id: "0101-abc" }, "run-fail");
    let resource = await get(meta);
    for (let i = 0; i < 5 && resource.phase !== Phase.FAILED; i++) resource = await get(meta);
    assert.equal(resource.phase, Phase.FAILED);
    assert.match(resource.message, /TERMINATED\/FAILED: Task main failed with message: ZeroDivisionError\./);
    assert.deepEqual(runOf(meta).body["new_cluster"], undefined, "an existing cluster gets no new_cluster defaults");
  });

  test("delete cancels a running run; deleting it again, or a finished or unknown run, is OK", async () => {
    const meta = await create({ run_name: "forever", new_cluster: newCluster }, "run-cancel");
    await get(meta);
    await get(meta);
    assert.equal((await get(meta)).phase, Phase.RUNNING);
    await del(meta);
    assert.equal(runOf(meta).cancels, 1);
    const after = await get(meta);
    assert.equal(after.phase, Phase.FAILED);
    assert.match(after.message, /CANCELED/);
    await del(meta); // already cancelled
    await del(encoder.encode(JSON.stringify({ databricks_instance: instance, run_id: "123" }))); // unknown run
  });

  test("a retried CreateTask for the same attempt returns the same run; the next attempt starts a new one", async () => {
    const before = runs.size;
    const first = await create({ run_name: "forever", new_cluster: newCluster }, "run-idem");
    const again = await create({ run_name: "forever", new_cluster: newCluster }, "run-idem");
    assert.deepEqual(decoder.decode(again), decoder.decode(first));
    assert.equal(runs.size, before + 1);
    const retry = await create({ run_name: "forever", new_cluster: newCluster }, "run-idem", 1);
    assert.notEqual(decoder.decode(retry), decoder.decode(first));
    assert.equal(runs.size, before + 2);
    await Promise.all([del(first), del(retry)]);
  });

  test("429 and 503 are retried within one call (create and get)", async () => {
    const count = requests.length;
    faults = [429, 503];
    const meta = await create({ run_name: "ok", new_cluster: newCluster }, "run-transient");
    assert.equal(requests.length - count, 3);
    faults = [503];
    assert.equal((await get(meta)).phase, Phase.INITIALIZING);
  });

  test("a persistent outage: get stays at the last known phase with a message; create fails UNAVAILABLE", async () => {
    const meta = await create({ run_name: "forever", new_cluster: newCluster }, "run-outage");
    await get(meta);
    assert.equal((await get(meta)).phase, Phase.RUNNING);
    outage = true;
    const resource = await get(meta);
    assert.equal(resource.phase, Phase.RUNNING);
    assert.match(resource.message, /temporarily unavailable.*503/i);
    await assert.rejects(create({ run_name: "forever", new_cluster: newCluster }, "run-outage-2"), (e: { code: number; details: string }) => {
      assert.equal(e.code, 14); // UNAVAILABLE
      assert.match(e.details, /runs\/submit failed: HTTP 503 TEMPORARILY_UNAVAILABLE: maintenance/);
      return true;
    });
    outage = false;
    await del(meta);
  });

  test("an undocumented run state keeps the task RUNNING with a message", async () => {
    const meta = await create({ run_name: "weird", new_cluster: newCluster }, "run-weird");
    const resource = await get(meta);
    assert.equal(resource.phase, Phase.RUNNING);
    assert.match(resource.message, /Unknown Databricks run state HIBERNATING/);
  });

  test("bad config is INVALID_ARGUMENT naming the key", async () => {
    const bad = async (custom: JsonObject, pattern: RegExp) => {
      const request = createRequest({}, "run-bad");
      await assert.rejects(
        service.client.unary(A.createTask, { ...request, template: { ...request.template, custom: { ...request.template.custom, ...custom } } }),
        (e: { code: number; details: string }) => {
          assert.equal(e.code, 3, e.details); // INVALID_ARGUMENT
          assert.match(e.details, pattern);
          return true;
        },
      );
    };
    await bad({ databricksConf: null }, /custom\.databricksConf is missing/);
    await bad({ databricksConf: { run_name: "x" } }, /existing_cluster_id or new_cluster/);
    await bad({ databricksConf: { new_cluster: newCluster }, databricksInstance: "myorg.cloud.databricks.com/path" }, /databricksInstance must be a host name/);
    await bad({ databricksConf: { new_cluster: newCluster }, databricksInstance: null }, /databricksInstance is missing/);
    // Databricks' own 400 is INVALID_ARGUMENT with its message.
    await bad({ databricksConf: { run_name: "echo", new_cluster: newCluster } }, /INVALID_PARAMETER_VALUE: Bad spec submitted with Bearer \*\*\*/);
  });

  test("the token never appears in replies, errors or meta", async () => {
    const request = createRequest({ run_name: "ok", new_cluster: newCluster }, "run-secret");
    const meta = (await service.client.unary(A.createTask, request)).resourceMeta;
    assert.ok(!decoder.decode(meta).includes(TOKEN));
    const resource = await get(meta);
    assert.ok(!JSON.stringify(resource, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes(TOKEN));
    // A wrong token: the fake echoes it in its error; the connector's error must not.
    const wrong = "dapi-WRONG-fedcba9876543210";
    await assert.rejects(
      service.client.unary(A.createTask, { ...request, taskExecutionMetadata: executionMetadata("run-secret-2"), connection: { secrets: { databricks_token: wrong } } }),
      (e: { code: number; details: string }) => {
        assert.equal(e.code, 9); // FAILED_PRECONDITION
        assert.match(e.details, /HTTP 401 UNAUTHENTICATED/);
        assert.ok(!e.details.includes(wrong) && !e.details.includes(TOKEN), e.details);
        return true;
      },
    );
    // No token at all: a clear precondition failure naming the secret.
    await assert.rejects(
      service.client.unary(A.createTask, { ...request, connection: { secrets: {} } }),
      (e: { code: number; details: string }) => e.code === 9 && /databricks_token/.test(e.details),
    );
  });
});

test("a plain http:// instance is refused unless the connector allows it (tests only)", async () => {
  const task = new DatabricksTask({
    name: "t",
    databricksInstance: `http://${instance}`,
    databricksToken: "T",
    databricksConf: { run_name: "forever", new_cluster: newCluster, notebook_task: { notebook_path: "/x" } },
  });
  const taskTemplate = task.toTaskTemplate();
  const request = {
    taskTemplate,
    custom: taskTemplate.custom ?? {},
    inputs: {},
    outputPrefix: "s3://b/p/http-check/1",
    taskExecutionMetadata: undefined,
    secrets: { databricks_token: TOKEN },
    configs: {},
    signal: AbortSignal.timeout(5000),
  };
  await assert.rejects(new DatabricksConnector().create(request), /must not use http:\/\//);
  const meta = await connector().create(request);
  assert.equal(meta.databricks_instance, instance);
});

test("every documented life-cycle and result state has a phase", () => {
  const cases: Array<[string, string | undefined, Phase]> = [
    ["QUEUED", undefined, Phase.QUEUED],
    ["BLOCKED", undefined, Phase.QUEUED],
    ["PENDING", undefined, Phase.INITIALIZING],
    ["RUNNING", undefined, Phase.RUNNING],
    ["TERMINATING", undefined, Phase.RUNNING],
    ["WAITING_FOR_RETRY", undefined, Phase.RUNNING],
    ["SKIPPED", undefined, Phase.FAILED],
    ["INTERNAL_ERROR", undefined, Phase.RETRYABLE_FAILED],
    ["TERMINATED", "SUCCESS", Phase.SUCCEEDED],
    ["TERMINATED", "SUCCESS_WITH_FAILURES", Phase.SUCCEEDED],
    ["TERMINATED", "FAILED", Phase.FAILED],
    ["TERMINATED", "TIMEDOUT", Phase.FAILED],
    ["TERMINATED", "CANCELED", Phase.FAILED],
    ["TERMINATED", "MAXIMUM_CONCURRENT_RUNS_REACHED", Phase.FAILED],
    ["TERMINATED", "EXCLUDED", Phase.FAILED],
    ["TERMINATED", "UPSTREAM_FAILED", Phase.FAILED],
    ["TERMINATED", "UPSTREAM_CANCELED", Phase.FAILED],
    ["TERMINATED", "DISABLED", Phase.FAILED],
    ["TERMINATED", undefined, Phase.RUNNING],
    ["TERMINATED", "SOMETHING_NEW", Phase.RUNNING],
  ];
  for (const [life_cycle_state, result_state, phase] of cases) {
    assert.equal(runPhase({ life_cycle_state, ...(result_state ? { result_state } : {}) }).phase, phase, `${life_cycle_state}/${result_state}`);
  }
});

test("the package's default export serves task type databricks; the legacy spark type is opt-in", () => {
  assert.deepEqual(connectors.map((c) => c.taskTypeName), ["databricks"]);
  assert.equal(new DatabricksConnector({ taskTypeName: "spark" }).taskTypeName, "spark");
  // Python-written meta decodes.
  const meta = DatabricksJobMetadata.decode(encoder.encode('{"databricks_instance": "x.cloud.databricks.com", "run_id": "42"}'));
  assert.equal(meta.run_id, "42");
});

test("DatabricksTask runs end to end through runTask (notebook task, token from the environment)", async () => {
  process.env["TEST_DATABRICKS_TOKEN"] = TOKEN;
  try {
    const task = new DatabricksTask({
      name: "nightly",
      databricksInstance: instance,
      databricksToken: "TEST_DATABRICKS_TOKEN",
      sparkConf: { "spark.sql.shuffle.partitions": "8" },
      databricksConf: { run_name: "nightly", new_cluster: newCluster, notebook_task: { notebook_path: "/Repos/etl/nightly" } },
    });
    assert.deepEqual(task.toTaskTemplate().custom, {
      sparkConf: { "spark.sql.shuffle.partitions": "8" },
      databricksConf: { run_name: "nightly", new_cluster: newCluster, notebook_task: { notebook_path: "/Repos/etl/nightly" } },
      databricksInstance: instance,
      secrets: { databricks_token: "TEST_DATABRICKS_TOKEN" },
    });
    const registry = new ConnectorRegistry().register(connector());
    const outputs = await runTask(task, {}, { registry, pollInterval: 5, quiet: true, handleSigint: false });
    assert.deepEqual(outputs, {});
    const run = [...runs.values()].find((r) => r.body["run_name"] === "nightly")!;
    assert.deepEqual(run.body["notebook_task"], { notebook_path: "/Repos/etl/nightly" });
    assert.deepEqual((run.body["new_cluster"] as Record<string, unknown>)["spark_conf"], { "spark.sql.shuffle.partitions": "8" });
    assert.equal(run.body["spark_python_task"], undefined);

    const failing = new DatabricksTask({
      name: "nightly_fail",
      databricksInstance: instance,
      databricksToken: "TEST_DATABRICKS_TOKEN",
      databricksConf: { run_name: "fail", existing_cluster_id: "c-1", notebook_task: { notebook_path: "/x" } },
    });
    const error = await runTask(failing, {}, { registry, pollInterval: 5, quiet: true, handleSigint: false }).catch((e: unknown) => e);
    assert.ok(error instanceof TaskFailedError);
    assert.match(error.reason ?? "", /ZeroDivisionError/);
  } finally {
    delete process.env["TEST_DATABRICKS_TOKEN"];
  }
});

test("a workspace that hangs: get answers the last known phase within the poll budget, not a deadline error", async () => {
  const hasty = new DatabricksConnector({ insecureHttp: true, retry: fastRetry, pollBudget: 300, allowedOrigins: [`http://${instance}`] });
  const task = new DatabricksTask({ name: "t", databricksInstance: instance, databricksToken: "T", databricksConf: { run_name: "forever", new_cluster: newCluster, notebook_task: { notebook_path: "/x" } } });
  const taskTemplate = task.toTaskTemplate();
  const call = { secrets: { databricks_token: TOKEN }, configs: {}, signal: AbortSignal.timeout(10_000) };
  const meta = await hasty.create({ ...call, taskTemplate, custom: taskTemplate.custom ?? {}, inputs: {}, outputPrefix: "s3://b/p/hang/1", taskExecutionMetadata: undefined });
  const get = () => hasty.get({ ...call, resourceMeta: meta, outputPrefix: "s3://b/p/hang/1" });
  assert.equal((await get()).phase, Phase.INITIALIZING);
  hang = true;
  const started = Date.now();
  const during = await get();
  assert.ok(Date.now() - started < 5000, "well before the backend's 10 s deadline");
  assert.equal(during.phase, Phase.INITIALIZING);
  assert.match(during.message ?? "", /no answer within 0\.3 s/);
  assert.deepEqual(during.logLinks?.map((l) => l.name), ["Databricks Console"]);
  hang = false;
  await hasty.delete({ ...call, resourceMeta: meta, outputPrefix: "" });
});
