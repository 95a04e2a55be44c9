// The OpenAI batch connectors with object storage, through the service's gRPC API: a JSONL File input on S3 is
// read and uploaded to OpenAI, and the finished batch's results come back as a File under the output prefix.
// Real servers on loopback: s3rver (S3-compatible, from npm) and the local fake of the OpenAI REST API.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { decodeOutputs, FlyteFile, ObjectStore, Phase } from "flyte-connectors";
import { isolateFromCloud, startS3Server, type S3TestServer } from "flyte-connectors/testing/storage";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { BatchEndpointConnector, BatchEndpointTask, BatchResultsConnector, BatchResultsTask } from "./index.js";
import { FakeOpenAI } from "./testing/fake-openai.js";
import { createTaskRequest, recording, rejectsWith, Transcript } from "./testing/grpc-helpers.js";

isolateFromCloud();

const KEY = "sk-test-R3sultsKey0123456789abcdef";
const SECRETS = { openai_api_key: KEY };

let fake: FakeOpenAI;
let s3: S3TestServer;
let store: ObjectStore;
let service: TestService;
let rpc: ReturnType<typeof recording>;

before(async () => {
  fake = await new FakeOpenAI().start();
  fake.validKeys.add(KEY);
  // createTaskRequest's output prefixes are in bucket "bucket".
  s3 = await startS3Server("bucket");
  store = new ObjectStore({ s3: { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }, retries: 0 });
  service = await serveForTest([new BatchEndpointConnector({ baseURL: fake.baseURL }), new BatchResultsConnector({ baseURL: fake.baseURL })], { dispatcherOptions: { storage: store } });
  rpc = recording(service.client, new Transcript());
});

after(async () => {
  await service?.close();
  await s3?.close();
  await fake?.close();
});

test("a JSONL File on S3 becomes a batch, whose results come back as a File on S3", async () => {
  const lines = '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[]}}\n';
  await store.put("s3://bucket/inputs/requests.jsonl", lines);
  const batchTask = new BatchEndpointTask({ name: "from_file", input: "file" });
  const { resourceMeta } = await rpc.create(await createTaskRequest(batchTask, { jsonl_in: new FlyteFile("s3://bucket/inputs/requests.jsonl") }, SECRETS, { run: "files" }));
  const batchId = JSON.parse(new TextDecoder().decode(resourceMeta)).batch_id as string;
  const batch = fake.batches.get(batchId)!;
  assert.equal(fake.files.get(String(batch["input_file_id"]))?.content, lines, "the S3 file's lines were uploaded to OpenAI");

  // The fake moves a batch one status further per poll.
  let resource;
  for (let polls = 0; polls < 10; polls++) {
    resource = (await rpc.get("openai-batch", resourceMeta, SECRETS)).resource!;
    if (resource.phase === Phase.SUCCEEDED) break;
  }
  assert.equal(resource?.phase, Phase.SUCCEEDED);
  const { result } = await decodeOutputs(resource!.outputs!, batchTask.outputs);

  const resultsTask = new BatchResultsTask({ name: "results" });
  const request = await createTaskRequest(resultsTask, { batch: result }, SECRETS, { run: "files" });
  const created = await rpc.create(request);
  const done = (await rpc.get("openai-batch-results", created.resourceMeta, SECRETS)).resource!;
  assert.equal(done.phase, Phase.SUCCEEDED);
  const outputs = await decodeOutputs(done.outputs!, resultsTask.outputs, { storage: store });
  const outputFile = outputs["output_file"] as FlyteFile;
  assert.equal(outputFile.uri, `${request.outputPrefix}/openai-batch/${batchId}/output.jsonl`);
  assert.equal(await outputFile.text(), fake.files.get(String(fake.batches.get(batchId)!["output_file_id"]))!.content);
  assert.equal(outputs["error_file"], null);
});

test("a batch without results is INVALID_ARGUMENT; a missing File on S3 is INVALID_ARGUMENT naming it", async () => {
  const resultsTask = new BatchResultsTask({ name: "results" });
  const pending = await rejectsWith(rpc.create(await createTaskRequest(resultsTask, { batch: { id: "batch_1", status: "in_progress", output_file_id: null } }, SECRETS)), 3);
  assert.match(pending, /batch_1 has no output_file_id \(status in_progress\)/);
  const batchTask = new BatchEndpointTask({ name: "from_file", input: "file" });
  const missing = await rejectsWith(rpc.create(await createTaskRequest(batchTask, { jsonl_in: new FlyteFile("s3://bucket/inputs/none.jsonl") }, SECRETS)), 3);
  assert.match(missing, /"s3:\/\/bucket\/inputs\/none\.jsonl": not found/);
});
