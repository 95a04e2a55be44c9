// Flyte 1: a BigQuery task template as flytekit's plugin (flytekitplugins.bigquery.BigQueryTask) writes it, run
// through the service's Flyte 1 agent services (flyteidl v1 messages) as Flyte 1's propeller calls them. Flyte 1
// sends no per-request secrets: the connector uses Application Default Credentials.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { SimpleType } from "@flyte-connectors/flyteidl2/flyteidl2/core/types_pb.js";
import { encodeInputs, Phase, types } from "flyte-connectors";
import { flyte1Client, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { FakeBigQuery } from "./fake-bigquery.test-support.js";
import { BigQueryConnector } from "./index.js";

let fake: FakeBigQuery;
let service: TestService;
let client: Flyte1Client;
let keyDir: string;
let savedCredentials: string | undefined;

before(async () => {
  fake = await FakeBigQuery.start();
  // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
  service = await serveForTest([new BigQueryConnector({ apiEndpoint: fake.url, retry: { minDelay: 5, maxDelay: 20 } })], { protocol: "grpc" });
  client = flyte1Client(service.handle.port);
  keyDir = mkdtempSync(join(tmpdir(), "bq-flyte1-"));
  writeFileSync(join(keyDir, "key.json"), fake.serviceAccountKey);
  savedCredentials = process.env["GOOGLE_APPLICATION_CREDENTIALS"];
  process.env["GOOGLE_APPLICATION_CREDENTIALS"] = join(keyDir, "key.json");
});

after(async () => {
  if (savedCredentials === undefined) delete process.env["GOOGLE_APPLICATION_CREDENTIALS"];
  else process.env["GOOGLE_APPLICATION_CREDENTIALS"] = savedCredentials;
  client.close();
  await service.close();
  await fake.close();
  rmSync(keyDir, { recursive: true, force: true });
});

/**
 * flytekit's BigQueryTask.get_custom: {"Location": None unless set, "ProjectID"} updated with
 * QueryJobConfig.to_api_repr()["query"] (camelCase API fields); SQL in template.sql; `results` output.
 */
function flytekitTemplate() {
  return create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wf.bq_task", version: "v1" },
    type: "bigquery_query_job_task",
    metadata: { runtime: { type: 1, version: "1.14.3", flavor: "python" }, retries: {} },
    interface: {
      inputs: { variables: [{ key: "version", value: { type: { type: { case: "simple", value: SimpleType.INTEGER } } } }] },
      outputs: { variables: [{ key: "results", value: { type: { type: { case: "structuredDatasetType", value: { format: "" } } } } }] },
    },
    custom: { Location: null, ProjectID: "flyte-test", useLegacySql: false, priority: "INTERACTIVE" },
    target: { case: "sql", value: { statement: "SELECT * FROM `flyte-test.logs.events` WHERE version = @version", dialect: 1 } },
  });
}

test("flytekit's BigQuery template: create → get until DONE → delete, through the Flyte 1 services", async () => {
  const inputs = await encodeInputs({ version: 3 }, { version: types.int });
  const created = await client.createTask({
    template: flytekitTemplate(),
    inputs: Object.fromEntries(inputs.literals.map((named) => [named.name, named.value!])),
    outputPrefix: "s3://bucket/metadata/propeller/flytesnacks-development-f1/n0/data/0",
  });
  const meta = JSON.parse(new TextDecoder().decode(created.resourceMeta)) as { job_id: string; project: string };
  assert.equal(meta.project, "flyte-test");
  assert.equal(fake.calls("insert").at(-1)?.body?.["jobReference"].location, undefined, "Location None: BigQuery picks it");
  const query = fake.calls("insert").at(-1)?.body?.["configuration"].query;
  assert.equal(query.query, "SELECT * FROM `flyte-test.logs.events` WHERE version = @version");
  assert.equal(query.priority, "INTERACTIVE");
  assert.equal(query.useLegacySql, false);
  assert.deepEqual(query.queryParameters, [{ name: "version", parameterType: { type: "INT64" }, parameterValue: { value: "3" } }]);
  assert.equal("Location" in query || "ProjectID" in query, false, "the connector's own keys are not query fields");

  const phases: number[] = [];
  let resource;
  for (let i = 0; i < 5 && resource?.phase !== Phase.SUCCEEDED; i++) {
    resource = (await client.getTask("bigquery_query_job_task", created.resourceMeta)).resource;
    phases.push(resource?.phase ?? -1);
  }
  assert.deepEqual(phases, [Phase.QUEUED, Phase.RUNNING, Phase.SUCCEEDED]);
  const results = resource?.outputs?.literals["results"];
  const scalar = results?.value.case === "scalar" ? results.value.value : undefined;
  assert.equal(scalar?.value.case, "structuredDataset");
  assert.match(scalar?.value.case === "structuredDataset" ? scalar.value.value.uri : "", /^bq:\/\/flyte-test:/);
  await client.deleteTask("bigquery_query_job_task", created.resourceMeta);
});

test("a meta written by flytekit's BigQuery connector (job_id, project, location; no user_agent) is polled and cancelled", async () => {
  const created = await client.createTask({ template: flytekitTemplate(), inputs: Object.fromEntries((await encodeInputs({ version: 1 }, { version: types.int })).literals.map((n) => [n.name, n.value!])) });
  const { job_id } = JSON.parse(new TextDecoder().decode(created.resourceMeta)) as { job_id: string };
  const flytekitMeta = new TextEncoder().encode(JSON.stringify({ job_id, project: "flyte-test", location: "US" }));
  const { resource } = await client.getTask("bigquery_query_job_task", flytekitMeta);
  assert.equal(resource?.phase, Phase.QUEUED);
  assert.match(resource?.logLinks[0]?.uri ?? "", new RegExp(`j=bq:US:${job_id}`));
  await client.deleteTask("bigquery_query_job_task", flytekitMeta);
  assert.equal(fake.job("flyte-test", job_id)!.cancels, 1);
});
