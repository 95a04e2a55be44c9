import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ActionFailedError, ConnectorRegistry, FlyteFile, runLocal, TaskFailedError } from "flyte-connectors";
import { ModelTrainingConnector } from "./index.js";
import { startFakeTrainingService } from "./fake-training-service.js";

let service: Awaited<ReturnType<typeof startFakeTrainingService>>;
let workflow: typeof import("./workflow.js");

before(async () => {
  service = await startFakeTrainingService();
  // The workflow reads its endpoint when it is loaded, as a user's module would at start-up.
  process.env["MODEL_TRAIN_ENDPOINT"] = service.endpoint;
  workflow = await import("./workflow.js");
});

after(() => service.close());

function capture() {
  let text = "";
  return { stream: { isTTY: false, write: (chunk: string) => (text += chunk) }, text: () => text };
}

const options = () => ({ registry: new ConnectorRegistry().register(new ModelTrainingConnector()), pollInterval: 5, handleSigint: false });

test("train_model runs data_prep, then the training connector task, and returns the model file", async () => {
  const out = capture();
  const { o0 } = await runLocal(workflow.trainModel, { epochs: 3 }, { ...options(), output: out.stream });
  assert.ok(o0 instanceof FlyteFile);
  const [jobId, job] = [...service.jobs].find(([, j]) => j.body.epochs === 3)!;
  assert.equal(o0.uri, `s3://models/${jobId}/model.pt`);
  // data_prep's output reached the training service
  assert.deepEqual(job.body, { dataset_uri: "gs://my-bucket/dataset.csv", epochs: 3 });
  const lines = out.text().split("\n");
  const order = ["[a0 hello_world.train_model] RUNNING", "[a1 hello_world.data_prep] SUCCEEDED", `[a2 model_train] training-dashboard: ${service.endpoint}/${jobId}`, "[a2 model_train] SUCCEEDED", "[a0 hello_world.train_model] SUCCEEDED"];
  const positions = order.map((prefix) => lines.findIndex((line) => line.startsWith(prefix)));
  assert.ok(positions.every((p) => p >= 0), out.text());
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, `actions out of order:\n${out.text()}`);
});

test("a failed training job fails the run, naming the model_train action", async () => {
  const error = await runLocal(workflow.trainModel, { epochs: 101 }, { ...options(), quiet: true }).catch((e: unknown) => e);
  assert.ok(error instanceof ActionFailedError);
  assert.equal(error.actionName, "a2"); // a0 train_model, a1 data_prep, a2 model_train
  assert.equal(error.taskName, "model_train");
  assert.ok(error.cause instanceof TaskFailedError);
  assert.equal(error.cause.reason, "too many epochs");
});

test("train_model serializes as flyte-sdk's @env.task in TaskEnvironment(name='hello_world', resources=Resources(memory='250Mi'))", () => {
  const template = workflow.trainModel.toTaskTemplate();
  assert.equal(template.id?.name, "hello_world.train_model");
  assert.equal(template.type, "python");
  assert.deepEqual(template.interface?.inputs?.variables.map((v) => v.key), ["epochs"]);
  assert.deepEqual(template.interface?.outputs?.variables.map((v) => v.key), ["o0"]);
  assert.equal(template.target.case, "container");
  assert.deepEqual(template.target.value?.resources?.requests.map((r) => r.value), ["250Mi"]);
});

test("`flyte-connector run` runs the workflow end to end and prints its output", async () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
  const exampleDir = path.join(root, "examples/model-training");
  const bin = path.join(root, "packages/service/bin/flyte-connector.js");
  const args = ["run", "src/workflow.ts", "train_model", "--no-discover", "--modules", "./src/index.ts", "--poll-interval", "5", "--epochs", "7"];
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: exampleDir,
    env: { ...process.env, MODEL_TRAIN_ENDPOINT: service.endpoint },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  assert.equal(code, 0, stderr);
  const [jobId] = [...service.jobs].find(([, j]) => j.body.epochs === 7)!;
  assert.deepEqual(JSON.parse(stdout), { o0: `s3://models/${jobId}/model.pt` });
  assert.match(stderr, /^\[a0 hello_world\.train_model\] SUCCEEDED/m);
});
