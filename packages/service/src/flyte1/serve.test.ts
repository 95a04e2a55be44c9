// A Flyte 1 backend against one `flyte-connector serve` process, as deployed: the CLI run from the repository root
// discovers the ready connectors of connectors/ and the built-ins, and the same gRPC port answers Flyte 1's agent
// services (ListAgents routing every ready connector, echo's create → get → delete, a sync connector's
// ExecuteTaskSync) beside flyteidl2's.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeOutputs, encodeInputs, Phase, types } from "flyte-connectors";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { create } from "@bufbuild/protobuf";
import { flyte1Client, flyte2Outputs, type Flyte1Client } from "../testing/flyte1.js";
import { spawnService, type SpawnedService } from "../testing/spawn.js";

const ROOT = join(import.meta.dirname, "..", "..", "..", "..");
let service: SpawnedService;
let client: Flyte1Client;

before(async () => {
  // No credentials of any vendor: the OpenAI key must not come from the developer's environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/OPENAI|DATABRICKS|SNOWFLAKE|GOOGLE_APPLICATION|_FSEC_/.test(name)));
  service = await spawnService(["serve", "--port", "0", "--prometheus-port", "0", "--connect-port", "0", "--host", "127.0.0.1", "--log-level", "warn"], {
    cwd: ROOT,
    env: { ...env, FLYTE_SECRETS_DEFAULT_DIR: join(ROOT, "no-such-secrets-dir") },
  });
  client = flyte1Client(service.port);
});

after(async () => {
  client?.close();
  await service?.stop();
});

test("ListAgents routes every ready connector and the built-ins; sync connectors are is_sync", async () => {
  const { agents } = await client.listAgents();
  const byType = new Map(agents.flatMap((agent) => agent.supportedTaskCategories.map((category) => [category.name, agent.isSync] as const)));
  for (const taskType of ["echo", "sleep", "bigquery_query_job_task", "databricks", "snowflake", "openai-batch", "chatgpt"]) {
    assert.ok(byType.has(taskType), `${taskType} is listed (got ${[...byType.keys()].join(", ")})`);
  }
  assert.equal(byType.get("chatgpt"), true);
  assert.equal(byType.get("echo"), false);
  for (const agent of agents) assert.deepEqual(agent.supportedTaskTypes, agent.supportedTaskCategories.map((category) => category.name), "the deprecated list older propellers read");
});

test("echo through the Flyte 1 services: create → get (outputs = inputs) → delete", async () => {
  const template = create(TaskTemplateSchema, {
    type: "echo",
    interface: { inputs: { variables: [{ key: "n", value: { type: { type: { case: "simple", value: SimpleType.INTEGER } } } }] } },
  });
  const inputs = await encodeInputs({ n: 7 }, { n: types.int });
  const { resourceMeta } = await client.createTask({ template, inputs: Object.fromEntries(inputs.literals.map((named) => [named.name, named.value!])) });
  const { resource } = await client.getTask("echo", resourceMeta);
  assert.equal(resource?.phase, Phase.SUCCEEDED);
  assert.deepEqual(await decodeOutputs(flyte2Outputs(resource?.outputs), { n: types.int }), { n: 7 });
  await client.deleteTask("echo", resourceMeta);
});

test("ExecuteTaskSync reaches the ChatGPT connector, which names the missing deployment key", async () => {
  const template = create(TaskTemplateSchema, {
    type: "chatgpt",
    interface: { inputs: { variables: [{ key: "message", value: { type: { type: { case: "simple", value: SimpleType.STRING } } } }] } },
    custom: { openai_organization: "", chatgpt_config: { model: "gpt-4o-mini" } },
  });
  const inputs = await encodeInputs({ message: "hi" }, { message: types.string });
  await assert.rejects(
    client.executeTaskSync({ template }, Object.fromEntries(inputs.literals.map((named) => [named.name, named.value!]))),
    (error: { code: number; details: string }) => {
      assert.equal(error.code, 9, `FAILED_PRECONDITION, got ${error.code}: ${error.details}`);
      assert.match(error.details, /FLYTE_OPENAI_API_KEY/);
      return true;
    },
  );
});
