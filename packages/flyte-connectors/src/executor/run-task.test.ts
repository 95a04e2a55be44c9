import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { toBinary } from "@bufbuild/protobuf";
import { OutputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { AsyncConnector, SyncConnector, type CreateRequest, type Resource, type ResourceRequest } from "../connector.js";
import { ConnectorError, SecretNotFoundError } from "../errors.js";
import { Phase } from "../phase.js";
import { ConnectorRegistry } from "../registry.js";
import { ResourceMeta } from "../resource-meta.js";
import { ConnectorTask } from "../task/index.js";
import { encodeOutputs, FlyteFile, types } from "../types/index.js";
import { runTask, TaskFailedError, type RunOptions } from "./index.js";

class FakeMeta extends ResourceMeta.define({ job_id: "string" }) {}

/** Plays a script of replies to get (the last one repeats); counts calls. */
class FakeConnector extends AsyncConnector<FakeMeta> {
  readonly name = "Fake Connector";
  readonly taskTypeName = "fake";
  readonly metadataType = FakeMeta;
  created: CreateRequest | undefined;
  gets: number[] = [];
  deletes = 0;
  onGet: (request: ResourceRequest<FakeMeta>, n: number) => Promise<void> | void = () => {};

  constructor(private readonly script: Array<Resource | ((request: CreateRequest) => Resource)>) {
    super();
  }

  async create(request: CreateRequest): Promise<FakeMeta> {
    this.created = request;
    return new FakeMeta({ job_id: "job-1" });
  }

  async get(request: ResourceRequest<FakeMeta>): Promise<Resource> {
    this.gets.push(performance.now());
    await this.onGet(request, this.gets.length);
    const step = this.script[Math.min(this.gets.length, this.script.length) - 1]!;
    return typeof step === "function" ? step(this.created!) : step;
  }

  async delete(): Promise<void> {
    this.deletes++;
  }
}

const task = new ConnectorTask({
  name: "fake_task",
  taskType: "fake",
  inputs: { count: types.int, name: types.string },
  outputs: { count: types.int, report: types.file },
});

const dashboard = { name: "dashboard", uri: "https://jobs.example.com/job-1" };
const succeeded = (request: CreateRequest): Resource => ({
  phase: Phase.SUCCEEDED,
  logLinks: [dashboard, { name: "report", uri: "https://jobs.example.com/job-1/report" }],
  outputs: { count: request.inputs["count"], report: new FlyteFile("s3://bucket/report.html") },
});

/** A fake stream that records what is written. */
function capture(isTTY = false) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join("") };
}

function options(connector: AsyncConnector<FakeMeta> | SyncConnector, extra: Partial<RunOptions> = {}): RunOptions {
  return { registry: new ConnectorRegistry().register(connector), pollInterval: 5, quiet: true, handleSigint: false, ...extra };
}

test("RUNNING → RUNNING → SUCCEEDED returns typed outputs and prints each log link once (plain lines off a TTY)", async () => {
  const connector = new FakeConnector([
    { phase: Phase.RUNNING, logLinks: [dashboard] },
    { phase: Phase.RUNNING, message: "epoch 2/3", logLinks: [dashboard] },
    succeeded,
  ]);
  const out = capture();
  const outputs = await runTask(task, { count: 3, name: "x" }, options(connector, { quiet: false, output: out.stream }));

  const count: number | bigint = outputs.count; // static types follow the declaration
  const report: FlyteFile = outputs.report;
  assert.equal(count, 3);
  assert.equal(typeof count, "number");
  assert.ok(report instanceof FlyteFile);
  assert.equal(report.uri, "s3://bucket/report.html");
  assert.equal(connector.gets.length, 3);
  assert.equal(connector.deletes, 0);

  // What the connector saw is what the backend sends.
  const created = connector.created!;
  assert.deepEqual(created.inputs, { count: 3, name: "x" });
  assert.equal(created.taskTemplate.type, "fake");
  assert.match(created.outputPrefix, /^file:\/\//);
  assert.equal(created.taskExecutionMetadata?.taskExecutionId?.taskId?.name, "fake_task");

  const lines = out.text().split("\n");
  assert.ok(!out.text().includes("\r"));
  assert.equal(lines.filter((l) => l === "[fake_task] dashboard: https://jobs.example.com/job-1").length, 1);
  assert.equal(lines.filter((l) => l === "[fake_task] report: https://jobs.example.com/job-1/report").length, 1);
  assert.equal(lines.filter((l) => l.startsWith("[fake_task] RUNNING")).length, 1, "one line per phase change");
  assert.match(lines.find((l) => l.startsWith("[fake_task] SUCCEEDED")) ?? "", /^\[fake_task\] SUCCEEDED \(\d+\.\ds\)$/);
});

test("on a TTY the status line is rewritten in place", async () => {
  const connector = new FakeConnector([{ phase: Phase.RUNNING, logLinks: [dashboard] }, { phase: Phase.RUNNING }, succeeded]);
  const out = capture(true);
  await runTask(task, { count: 1, name: "x" }, options(connector, { quiet: false, output: out.stream }));
  const text = out.text();
  assert.ok(text.includes("\r\x1b[2K[fake_task] RUNNING"));
  assert.equal(text.split("dashboard: https://jobs.example.com/job-1\n").length, 2, "link printed once");
  assert.ok(text.endsWith("\n"));
  assert.match(text, /\[fake_task\] SUCCEEDED \(\d+\.\ds\)\n$/);
});

test("quiet writes nothing", async () => {
  const out = capture();
  await runTask(task, { count: 1, name: "x" }, options(new FakeConnector([succeeded]), { output: out.stream, quiet: true }));
  assert.equal(out.text(), "");
});

test("FAILED rejects with a TaskFailedError carrying phase and message", async () => {
  const connector = new FakeConnector([{ phase: Phase.RUNNING }, { phase: Phase.FAILED, message: "out of memory" }]);
  const error = await runTask(task, { count: 1, name: "x" }, options(connector)).catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.FAILED);
  assert.equal(error.reason, "out of memory");
  assert.match(error.message, /fake_task.*FAILED.*out of memory/);
  assert.equal(connector.deletes, 0);
});

test("abort via signal deletes the job exactly once and rejects with ABORTED", async () => {
  const controller = new AbortController();
  const connector = new FakeConnector([{ phase: Phase.RUNNING }]);
  connector.onGet = (_request, n) => {
    if (n === 2) controller.abort();
  };
  const error = await runTask(task, { count: 1, name: "x" }, options(connector, { signal: controller.signal })).catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.ABORTED);
  assert.equal(connector.deletes, 1);
  assert.equal(connector.gets.length, 2, "no poll after the abort");
});

test("abort during a hanging get abandons it and deletes once", async () => {
  const controller = new AbortController();
  const connector = new FakeConnector([{ phase: Phase.RUNNING }]);
  connector.onGet = () => {
    setTimeout(() => controller.abort(), 10);
    return new Promise(() => {}); // never answers, ignores its signal
  };
  const error = await runTask(task, { count: 1, name: "x" }, options(connector, { signal: controller.signal })).catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.ABORTED);
  assert.equal(connector.deletes, 1);
});

test("an already aborted signal creates nothing", async () => {
  const connector = new FakeConnector([succeeded]);
  const error = await runTask(task, { count: 1, name: "x" }, options(connector, { signal: AbortSignal.abort() })).catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.ABORTED);
  assert.equal(connector.created, undefined);
  assert.equal(connector.deletes, 0);
});

test("Ctrl-C (SIGINT) cancels when handleSigint is set, and the listener is removed afterwards", async () => {
  const before = process.listenerCount("SIGINT");
  const connector = new FakeConnector([{ phase: Phase.RUNNING }]);
  connector.onGet = () => {
    process.emit("SIGINT");
  };
  const error = await runTask(task, { count: 1, name: "x" }, options(connector, { handleSigint: true })).catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.ABORTED);
  assert.equal(connector.deletes, 1);
  assert.equal(process.listenerCount("SIGINT"), before);
});

const secretTask = new ConnectorTask({
  name: "secret_task",
  taskType: "fake",
  inputs: { count: types.int, name: types.string },
  outputs: { count: types.int, report: types.file },
  secrets: { api_key: "FAKE_API_KEY" },
  configs: { region: "eu" },
});

test("a missing secret environment variable rejects with SecretNotFoundError before anything is created", async () => {
  const connector = new FakeConnector([succeeded]);
  const error = await runTask(secretTask, { count: 1, name: "x" }, options(connector, { env: {} })).catch((e: unknown) => e);
  assert.ok(error instanceof SecretNotFoundError);
  assert.match(error.message, /FAKE_API_KEY/);
  assert.match(error.message, /secret_task/);
  assert.equal(connector.created, undefined);
});

test("secrets read from the environment (and configs) reach the connector", async () => {
  const connector = new FakeConnector([succeeded]);
  let seen: ResourceRequest<FakeMeta> | undefined;
  connector.onGet = (request) => {
    seen = request;
  };
  await runTask(secretTask, { count: 1, name: "x" }, options(connector, { env: { FAKE_API_KEY: "s3cr3t" } }));
  assert.deepEqual(connector.created?.secrets, { api_key: "s3cr3t" });
  assert.deepEqual(connector.created?.configs, { region: "eu" });
  assert.deepEqual(seen?.secrets, { api_key: "s3cr3t" });
});

test("backoff grows the interval between polls up to maxInterval", async () => {
  const running: Resource = { phase: Phase.RUNNING };
  const connector = new FakeConnector([running, running, running, running, running, succeeded]);
  await runTask(task, { count: 1, name: "x" }, options(connector, { pollInterval: 10, backoff: { factor: 2, maxInterval: 40 } }));
  const gaps = connector.gets.slice(1).map((t, i) => t - connector.gets[i]!);
  // Timers never fire early (allow 2 ms of rounding); late is fine on a busy machine.
  [10, 20, 40, 40, 40].forEach((expected, i) => assert.ok(gaps[i]! >= expected - 2, `gap ${i} is ${gaps[i]} ms, expected ≥ ${expected}`));
});

test("invalid options are rejected", async () => {
  const connector = new FakeConnector([succeeded]);
  await assert.rejects(runTask(task, { count: 1, name: "x" }, options(connector, { backoff: { factor: 0.5 } })), RangeError);
  await assert.rejects(runTask(task, { count: 1, name: "x" }, options(connector, { pollInterval: -1 })), RangeError);
});

test("a sync connector runs through the same call; its first poll is final", async () => {
  class UpperConnector extends SyncConnector {
    readonly name = "Upper";
    readonly taskTypeName = "upper";
    async do({ inputs }: CreateRequest): Promise<Resource> {
      return { phase: Phase.SUCCEEDED, outputs: { text: String(inputs["text"]).toUpperCase() } };
    }
  }
  const upper = new ConnectorTask({ name: "upper", taskType: "upper", inputs: { text: types.string }, outputs: { text: types.string } });
  // A poll interval far beyond the test timeout: the run must not wait once.
  const outputs = await runTask(upper, { text: "hello" }, options(new UpperConnector(), { pollInterval: 600_000 }));
  assert.deepEqual(outputs, { text: "HELLO" });
});

test("outputs a connector wrote to <outputPrefix>/outputs.pb are read when the reply has none", async () => {
  const connector = new FakeConnector([{ phase: Phase.SUCCEEDED }]);
  connector.onGet = async ({ outputPrefix }) => {
    const outputs = await encodeOutputs({ count: 7, report: new FlyteFile("gs://b/r.html") }, task.outputs);
    await writeFile(join(fileURLToPath(outputPrefix), "outputs.pb"), toBinary(OutputsSchema, outputs));
  };
  const dir = await mkdtemp(join(tmpdir(), "run-task-test-"));
  try {
    const outputs = await runTask(task, { count: 1, name: "x" }, options(connector, { outputPrefix: pathToFileURL(dir).href }));
    assert.equal(outputs.count, 7);
    assert.equal(outputs.report.uri, "gs://b/r.html");
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("SUCCEEDED without the declared outputs is a failure; without declared outputs it returns {}", async () => {
  const error = await runTask(task, { count: 1, name: "x" }, options(new FakeConnector([{ phase: Phase.SUCCEEDED }]))).catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.FAILED);
  assert.match(error.message, /outputs\.pb/);

  const bare = new ConnectorTask({ name: "bare", taskType: "fake" });
  assert.deepEqual(await runTask(bare, {}, options(new FakeConnector([{ phase: Phase.SUCCEEDED }]))), {});
});

test("a failing get rejects with its ConnectorError and deletes the job (best effort)", async () => {
  const connector = new FakeConnector([{ phase: Phase.RUNNING }]);
  connector.onGet = (_request, n) => {
    if (n === 2) throw new Error("boom");
  };
  const error = await runTask(task, { count: 1, name: "x" }, options(connector)).catch((e: unknown) => e);
  assert.ok(error instanceof ConnectorError && !(error instanceof TaskFailedError));
  assert.equal(error.code, "INTERNAL");
  assert.match(error.message, /boom/);
  assert.equal(connector.deletes, 1);
});

test("each call has its own deadline (callTimeout)", async () => {
  const connector = new FakeConnector([{ phase: Phase.RUNNING }]);
  connector.onGet = () => new Promise(() => {}); // never answers
  const error = await runTask(task, { count: 1, name: "x" }, options(connector, { callTimeout: 20 })).catch((e: unknown) => e);
  assert.ok(error instanceof ConnectorError);
  assert.equal(error.code, "DEADLINE_EXCEEDED");
  assert.equal(connector.deletes, 1);
});

test("inputs are checked against the task's declared inputs before anything is created", async () => {
  const job = types.dataclass({ title: "Job", type: "object", properties: { id: { type: "string" } }, required: ["id"] });
  const strict = new ConnectorTask({ name: "strict_task", taskType: "fake", inputs: { count: types.int, job }, outputs: {} });
  const connector = new FakeConnector([{ phase: Phase.SUCCEEDED }]);
  const registry = new ConnectorRegistry().register(connector);
  const run = (inputs: Record<string, unknown>) => runTask(strict, inputs as never, { registry, quiet: true, pollInterval: 0 });
  const invalid = (message: RegExp) => (error: unknown) => {
    assert.ok(error instanceof ConnectorError, String(error));
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, message);
    return true;
  };
  await assert.rejects(run({ job: { id: "a" } }), invalid(/^count: missing input of type int/));
  await assert.rejects(run({ count: 1, job: { id: "a" }, extra: 2 }), invalid(/^extra: input is not declared \(declared inputs: count, job\)/));
  await assert.rejects(run({ count: 1, job: {} }), invalid(/^job: .*missing required field "id" of Job/));
  assert.equal(connector.created, undefined);
  assert.deepEqual(await run({ count: 1, job: { id: "a" } }), {});
  assert.deepEqual((connector.created as CreateRequest | undefined)?.inputs, { count: 1, job: { id: "a" } });
});
