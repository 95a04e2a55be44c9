// Flyte 1: ChatGPT and OpenAI batch templates as flytekit's plugin (flytekitplugins.openai ChatGPTTask,
// BatchEndpointTask) writes them, through the service's Flyte 1 agent services as Flyte 1's propeller calls them:
// ChatGPT (a sync connector) with ExecuteTaskSync, the batch with CreateTask/GetTask/DeleteTask. flytekit's
// connectors take the key from the deployment (FLYTE_OPENAI_API_KEY); Flyte 1 sends no per-request secrets.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { decodeOutputs, encodeInputs, Phase, types } from "flyte-connectors";
import { flyte1Client, flyte2Outputs, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { BatchEndpointConnector, ChatGPTConnector } from "./index.js";
import { FakeOpenAI } from "./testing/fake-openai.js";

const KEY = "sk-flyte1-deployment-Key0123456789";
let fake: FakeOpenAI;
let service: TestService;
let client: Flyte1Client;
const savedKey = process.env["FLYTE_OPENAI_API_KEY"];

before(async () => {
  fake = await new FakeOpenAI().start();
  fake.validKeys.add(KEY);
  process.env["FLYTE_OPENAI_API_KEY"] = KEY;
  // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
  service = await serveForTest([new ChatGPTConnector({ baseURL: fake.baseURL }), new BatchEndpointConnector({ baseURL: fake.baseURL })], { protocol: "grpc" });
  client = flyte1Client(service.handle.port);
});

after(async () => {
  if (savedKey === undefined) delete process.env["FLYTE_OPENAI_API_KEY"];
  else process.env["FLYTE_OPENAI_API_KEY"] = savedKey;
  client.close();
  await service.close();
  await fake.close();
});

const variable = (simple: SimpleType) => ({ type: { type: { case: "simple" as const, value: simple } } });
const literalsOf = async (values: Record<string, unknown>, specs: Parameters<typeof encodeInputs>[1]) =>
  Object.fromEntries((await encodeInputs(values, specs)).literals.map((named) => [named.name, named.value!]));

/** flytekit's ChatGPTTask: custom {openai_organization, chatgpt_config}, input `message: str`, output `o0: str`. */
const chatgptTemplate = () =>
  create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wf.chatgpt", version: "v1" },
    type: "chatgpt",
    metadata: { runtime: { type: 1, version: "1.14.3", flavor: "python" } },
    interface: { inputs: { variables: [{ key: "message", value: variable(SimpleType.STRING) }] }, outputs: { variables: [{ key: "o0", value: variable(SimpleType.STRING) }] } },
    custom: { openai_organization: "org-flyte1", chatgpt_config: { model: "gpt-4o-mini", temperature: 0.7 } },
  });

test("ListAgents marks ChatGPT sync; ExecuteTaskSync answers a header with o0 inline, as propeller reads it", async () => {
  const { agents } = await client.listAgents();
  assert.deepEqual(agents.map((agent) => [agent.supportedTaskTypes, agent.isSync]), [[["chatgpt"], true], [["openai-batch"], false]]);
  const answers = await client.executeTaskSync({ template: chatgptTemplate(), outputPrefix: "s3://b/out/0" }, await literalsOf({ message: "hello" }, { message: types.string }));
  assert.equal(answers.length, 1);
  const header = answers[0]!.res.case === "header" ? answers[0]!.res.value : undefined;
  assert.equal(header?.resource?.phase, Phase.SUCCEEDED);
  const o0 = header?.resource?.outputs?.literals["o0"];
  const scalar = o0?.value.case === "scalar" ? o0.value.value : undefined;
  const primitive = scalar?.value.case === "primitive" ? scalar.value.value : undefined;
  assert.equal(primitive?.value.value, "echo: hello");
  const request = fake.seen("POST", /^\/v1\/chat\/completions$/).at(-1)!;
  const body = request.body as Record<string, unknown>;
  assert.deepEqual([body["model"], body["temperature"], body["messages"]], ["gpt-4o-mini", 0.7, [{ role: "user", content: "hello" }]]);
  assert.equal(request.headers["openai-organization"], "org-flyte1");
});

test("ChatGPT through CreateTask/GetTask too (a propeller that routes it without ListAgents)", async () => {
  const { resourceMeta } = await client.createTask({ template: chatgptTemplate(), inputs: await literalsOf({ message: "again" }, { message: types.string }) });
  const { resource } = await client.getTask("chatgpt", resourceMeta);
  assert.equal(resource?.phase, Phase.SUCCEEDED);
  assert.deepEqual(await decodeOutputs(flyte2Outputs(resource?.outputs), { o0: types.string }), { o0: "echo: again" });
});

test("flytekit's BatchEndpointTask: custom {openai_organization, config}, input_file_id → result, create → get → delete", async () => {
  const fileId = fake.addFile('{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[]}}\n');
  const template = create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wf.batch", version: "v1" },
    type: "openai-batch",
    metadata: { runtime: { type: 1, version: "1.14.3", flavor: "python" } },
    interface: {
      inputs: { variables: [{ key: "input_file_id", value: variable(SimpleType.STRING) }] },
      outputs: { variables: [{ key: "result", value: variable(SimpleType.STRUCT) }] },
    },
    custom: { openai_organization: "org-flyte1", config: { metadata: { owner: "flyte1" } } },
  });
  const { resourceMeta } = await client.createTask({ template, inputs: await literalsOf({ input_file_id: fileId }, { input_file_id: types.string }), outputPrefix: "s3://b/out/0" });
  const posted = fake.seen("POST", /^\/v1\/batches$/).at(-1)!.body as Record<string, unknown>;
  assert.equal(posted["input_file_id"], fileId);
  assert.equal(posted["endpoint"], "/v1/chat/completions", "flytekit's default endpoint");
  assert.equal(posted["completion_window"], "24h", "flytekit's default window");
  assert.equal((posted["metadata"] as Record<string, string>)["owner"], "flyte1");

  let resource;
  for (let i = 0; i < 10 && resource?.phase !== Phase.SUCCEEDED; i++) resource = (await client.getTask("openai-batch", resourceMeta)).resource;
  assert.equal(resource?.phase, Phase.SUCCEEDED);
  const { batch_id } = JSON.parse(new TextDecoder().decode(resourceMeta)) as { batch_id: string };
  const { result } = await decodeOutputs(flyte2Outputs(resource?.outputs), { result: types.struct });
  assert.equal((result as { id: string; status: string }).id, batch_id, "the batch object, inline as flytekit returns it");
  assert.equal((result as { status: string }).status, "completed");
  await client.deleteTask("openai-batch", resourceMeta);
});
