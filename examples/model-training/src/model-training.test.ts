import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ConnectorRegistry, FlyteFile, Phase, runTask, TaskFailedError } from "flyte-connectors";
import { startFakeTrainingService, type FakeJob } from "./fake-training-service.js";
import connectors, { ModelTrainJobMeta, ModelTrainingConnector, ModelTrainTask } from "./index.js";

let service: Awaited<ReturnType<typeof startFakeTrainingService>>;
let endpoint: string;
let jobs: Map<string, FakeJob>;

before(async () => {
  service = await startFakeTrainingService();
  ({ endpoint, jobs } = service);
});

after(() => service.close());

function capture() {
  let text = "";
  return { stream: { isTTY: false, write: (chunk: string) => (text += chunk) }, text: () => text };
}

const registry = () => new ConnectorRegistry().register(new ModelTrainingConnector());

test("the module's default export is the list of connectors the service loads", () => {
  assert.ok(Array.isArray(connectors));
  assert.ok(connectors[0] instanceof ModelTrainingConnector);
  assert.equal(connectors[0].taskTypeName, "external_model_training");
});

test("ModelTrainTask runs end to end through runTask and returns the results file", async () => {
  const task = new ModelTrainTask({ name: "model_train", endpoint });
  const out = capture();
  const { results } = await runTask(task, { epochs: 3, dataset_uri: "gs://bucket/data.csv" }, {
    registry: registry(),
    pollInterval: 5,
    output: out.stream,
    handleSigint: false,
  });

  assert.ok(results instanceof FlyteFile);
  const [jobId, job] = [...jobs].find(([, j]) => j.body.dataset_uri === "gs://bucket/data.csv")!;
  assert.equal(results.uri, `s3://models/${jobId}/model.pt`);
  assert.deepEqual(job.body, { dataset_uri: "gs://bucket/data.csv", epochs: 3 });
  assert.equal(job.polls, 3);
  assert.equal(job.deletes, 0);
  const link = `[model_train] training-dashboard: ${endpoint}/${jobId}\n`;
  assert.equal(out.text().split(link).length, 2, `log link printed once in:\n${out.text()}`);
  assert.match(out.text(), /\[model_train\] SUCCEEDED/);
});

test("a failed training job rejects with its message", async () => {
  const task = new ModelTrainTask({ name: "model_train", endpoint });
  const error = await runTask(task, { epochs: 1, dataset_uri: "gs://bucket/bad.csv" }, {
    registry: registry(),
    pollInterval: 5,
    quiet: true,
    handleSigint: false,
  }).catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.FAILED);
  assert.equal(error.reason, "dataset is empty");
});

test("aborting a run sends DELETE exactly once", async () => {
  const task = new ModelTrainTask({ name: "model_train", endpoint });
  const controller = new AbortController();
  const run = runTask(task, { epochs: 1, dataset_uri: "gs://bucket/forever.csv" }, {
    registry: registry(),
    pollInterval: 5,
    quiet: true,
    handleSigint: false,
    signal: controller.signal,
  });
  // Abort once the job is being polled (give up after ~5 s so a broken run cannot hang the test).
  for (let i = 0; i < 1000 && ![...jobs.values()].some((j) => j.body.dataset_uri === "gs://bucket/forever.csv" && j.polls >= 2); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  controller.abort();
  const error = await run.catch((e: unknown) => e);
  assert.ok(error instanceof TaskFailedError);
  assert.equal(error.phase, Phase.ABORTED);
  const job = [...jobs.values()].find((j) => j.body.dataset_uri === "gs://bucket/forever.csv")!;
  assert.equal(job.deletes, 1);
});

test("delete treats an unknown job (404) as done", async () => {
  const connector = new ModelTrainingConnector();
  await connector.delete({
    resourceMeta: new ModelTrainJobMeta({ job_id: "nope", endpoint }),
    outputPrefix: "",
    secrets: {},
    configs: {},
    signal: AbortSignal.timeout(5000),
  });
});
