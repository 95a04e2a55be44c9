import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { ConnectorRegistry, FlyteFile, Phase, runTask, TaskFailedError } from "flyte-connectors";
import connectors, { ModelTrainJobMeta, ModelTrainingConnector, ModelTrainTask } from "./index.js";

/** A tiny training service: POST /train, GET /train/<id> (503, running, then finished), DELETE /train/<id>. */
interface Job {
  body: { dataset_uri?: string; epochs?: number };
  polls: number;
  deletes: number;
}
const jobs = new Map<string, Job>();
let server: Server;
let endpoint: string;

async function readJson(request: IncomingMessage): Promise<unknown> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return JSON.parse(text);
}

before(async () => {
  server = createServer(async (request, response) => {
    const send = (status: number, body?: unknown) => {
      response.writeHead(status, { "content-type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body));
    };
    const id = /^\/train\/([^/]+)$/.exec(request.url ?? "")?.[1];
    if (request.method === "POST" && request.url === "/train") {
      const jobId = `job-${jobs.size + 1}`;
      jobs.set(jobId, { body: (await readJson(request)) as Job["body"], polls: 0, deletes: 0 });
      return send(201, { job_id: jobId });
    }
    const job = id ? jobs.get(id) : undefined;
    if (!job) return send(404, { error: "no such job" });
    if (request.method === "DELETE") {
      job.deletes++;
      return send(200, {});
    }
    if (request.method === "GET") {
      job.polls++;
      if (job.polls === 1) return send(503, { error: "warming up" }); // non-200: still RUNNING
      if (job.body.dataset_uri === "gs://bucket/forever.csv" || job.polls < 3) return send(200, { status: "running" });
      if (job.body.dataset_uri === "gs://bucket/bad.csv") return send(200, { status: "failed", error: "dataset is empty" });
      return send(200, { status: "finished", results: `s3://models/${id}/model.pt` });
    }
    send(405);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/train`;
});

after(() => {
  server.close();
});

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
