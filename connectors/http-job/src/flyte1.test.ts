// Flyte 1: the HTTP job connector through the service's Flyte 1 agent services, as Flyte 1's propeller calls them
// (CreateTask with a core.LiteralMap, GetTask/DeleteTask with the deprecated task_type). Flyte 1 sends no
// per-request secrets, so the auth secret comes from the connector deployment — only for keys the operator lists
// in `deploymentSecrets`. The job service is a small local fake (its own made-up API, as in http-job.test.ts).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { decodeOutputs, encodeInputs, Phase, types } from "flyte-connectors";
import { flyte1Client, flyte2Outputs, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { HttpJobConnector, HttpJobTask } from "./index.js";

const TOKEN = "flyte1-deployment-TOKEN-42";
const ENV = "_FSEC_JOB_TOKEN";
const jobs = new Map<string, { cancelled: boolean; epochs: number }>();
const seenAuth: string[] = [];
let jobServer: Server;
let base: string;
let service: TestService;
let client: Flyte1Client;
const saved = process.env[ENV];

before(async () => {
  jobServer = createServer(async (request, response) => {
    seenAuth.push(String(request.headers.authorization));
    const reply = (status: number, body?: unknown) => response.writeHead(status, { "content-type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body));
    if (request.headers.authorization !== `Bearer ${TOKEN}`) return reply(401, { error: "bad credentials" });
    if (request.method === "POST" && request.url === "/jobs") {
      let text = "";
      for await (const chunk of request) text += String(chunk);
      const id = `job-${jobs.size + 1}`;
      jobs.set(id, { cancelled: false, epochs: (JSON.parse(text) as { epochs: number }).epochs });
      return reply(201, { id });
    }
    const job = jobs.get(request.url?.split("/")[2] ?? "");
    if (!job) return reply(404, { error: "no such job" });
    if (request.method === "DELETE") {
      job.cancelled = true;
      return reply(204);
    }
    return reply(200, job.cancelled ? { status: "cancelled" } : { status: "succeeded", result: { epochs: job.epochs } });
  });
  await new Promise<void>((resolve) => jobServer.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(jobServer.address() as AddressInfo).port}`;
  process.env[ENV] = TOKEN;
  const connectors = [new HttpJobConnector({ allowedOrigins: [base], deploymentSecrets: ["job_token"] })];
  // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
  service = await serveForTest(connectors, { protocol: "grpc" });
  client = flyte1Client(service.handle.port);
});

after(async () => {
  if (saved === undefined) delete process.env[ENV];
  else process.env[ENV] = saved;
  client.close();
  await service.close();
  jobServer.close();
});

const task = (secret: string) =>
  new HttpJobTask({
    name: "train",
    inputs: { epochs: types.int },
    outputs: { epochs: types.int },
    submit: { url: `${base}/jobs`, body: { epochs: "{{ inputs.epochs }}" } },
    jobIdPath: "id",
    status: { url: `${base}/jobs/{{ jobId }}` },
    outputPaths: { epochs: "result.epochs" },
    cancel: { url: `${base}/jobs/{{ jobId }}` },
    auth: { header: "Authorization", secret, scheme: "Bearer" },
    // A Flyte 2 backend resolves this reference per call; a Flyte 1 backend ignores it and sends no secrets.
    secrets: { [secret]: secret.toUpperCase() },
  });
const inputsOf = async (epochs: number) => Object.fromEntries((await encodeInputs({ epochs }, { epochs: types.int })).literals.map((named) => [named.name, named.value!]));

test("Flyte 1: create → get → delete with the deployment's secret; outputs as a LiteralMap", async () => {
  const { agents } = await client.listAgents();
  assert.deepEqual(agents.map((agent) => [agent.supportedTaskTypes, agent.isSync]), [[["http_job"], false]]);
  const { resourceMeta } = await client.createTask({ template: task("job_token").toTaskTemplate(), inputs: await inputsOf(7), outputPrefix: "s3://b/run/a0/1" });
  const { resource } = await client.getTask("http_job", resourceMeta);
  assert.equal(resource?.phase, Phase.SUCCEEDED, resource?.message);
  assert.deepEqual(await decodeOutputs(flyte2Outputs(resource?.outputs), { epochs: types.int }), { epochs: 7 });
  await client.deleteTask("http_job", resourceMeta);
  assert.ok(seenAuth.length >= 3 && seenAuth.every((value) => value === `Bearer ${TOKEN}`), seenAuth.join(", "));
  assert.ok(!new TextDecoder().decode(resourceMeta).includes(TOKEN), "the secret value is not in the resource meta");
});

test("Flyte 1: a deployment secret the operator did not list is not used (a task must not pick any secret of the pod)", async () => {
  process.env["_FSEC_OTHER_SECRET"] = "must-not-leave";
  try {
    const calls = seenAuth.length;
    await assert.rejects(
      client.createTask({ template: task("other_secret").toTaskTemplate(), inputs: await inputsOf(1) }),
      (error: { code: number; details: string }) => {
        assert.equal(error.code, 9, error.details); // FAILED_PRECONDITION: a missing secret
        assert.match(error.details, /Secret "other_secret"/);
        assert.doesNotMatch(error.details, /must-not-leave/);
        return true;
      },
    );
    assert.equal(seenAuth.length, calls, "nothing was sent to the job service");
  } finally {
    delete process.env["_FSEC_OTHER_SECRET"];
  }
});
