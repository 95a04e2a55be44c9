// `npm start` in this repository serves every ready connector: the connector packages are found by discovery
// (their package.json "flyteConnectors" field), with no flag and no credentials.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { spawnService, testClient } from "@flyte-connectors/service/testing";

const root = join(import.meta.dirname, "..");

test("flyte-connector serve, run from the repository root, lists every connector in ListConnectors", async () => {
  const service = await spawnService(["serve", "--port", "0", "--prometheus-port", "0", "--host", "127.0.0.1"], {
    cwd: root,
    // No credentials of any vendor in the environment: starting must not need them.
    env: { PATH: process.env["PATH"] ?? "" },
  });
  const client = testClient(service.port);
  try {
    const reply = await client.unary(ConnectorMetadataService.method.listConnectors, {});
    const taskTypes = reply.connectors.flatMap((c) => c.supportedTaskCategories.map((t) => `${t.name}@${t.version}`)).sort();
    assert.deepEqual(taskTypes, [
      "bigquery_query_job_task@0",
      "boto@0",
      "chatgpt@0",
      "databricks@0",
      "echo@0",
      "emr_serverless@0",
      "http_job@0",
      "openai-batch-results@0",
      "openai-batch@0",
      "sagemaker-endpoint@0",
      "sensor@0",
      "sleep@0",
      "slurm@0",
      "slurm_script@0",
      "snowflake@0",
      "webhook@0",
    ]);
    assert.doesNotMatch(service.stderr(), /skipped/, "no connector module failed to load");
  } finally {
    client.close();
    assert.equal(await service.stop(), 0);
  }
});
