// Flyte 1: Databricks task templates as flytekit's plugin (flytekitplugins.spark, `Databricks`/`DatabricksV2`
// task config) writes them, run through the service's Flyte 1 agent services as Flyte 1's propeller calls them.
// flytekit's connector takes the token from the deployment (FLYTE_DATABRICKS_ACCESS_TOKEN); Flyte 1 sends no secrets.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { Phase } from "flyte-connectors";
import { flyte1Client, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { DatabricksConnector } from "./index.js";

const TOKEN = "dapi-flyte1-deployment-token";

/** A minimal Jobs API 2.1: runs/submit records the body, runs/get reports TERMINATED/SUCCESS, runs/cancel counts. */
const submitted: Array<{ body: Record<string, unknown>; authorization: string | undefined; cancels: number }> = [];
let server: Server;
let instance: string;

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
  const url = new URL(request.url ?? "/", "http://x");
  const send = (status: number, answer: unknown): void => {
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer));
  };
  if (request.method === "POST" && url.pathname === "/api/2.1/jobs/runs/submit") {
    submitted.push({ body, authorization: request.headers.authorization, cancels: 0 });
    return send(200, { run_id: submitted.length });
  }
  const run = submitted[Number(url.searchParams.get("run_id") ?? body["run_id"]) - 1];
  if (!run) return send(400, { error_code: "INVALID_PARAMETER_VALUE", message: "no such run" });
  if (request.method === "GET" && url.pathname === "/api/2.1/jobs/runs/get") {
    return send(200, { job_id: 7, run_id: Number(url.searchParams.get("run_id")), state: { life_cycle_state: "TERMINATED", result_state: "SUCCESS", state_message: "" } });
  }
  if (request.method === "POST" && url.pathname === "/api/2.1/jobs/runs/cancel") {
    run.cancels++;
    return send(200, {});
  }
  send(404, { error_code: "ENDPOINT_NOT_FOUND" });
}

let service: TestService;
let client: Flyte1Client;
const savedToken = process.env["FLYTE_DATABRICKS_ACCESS_TOKEN"];

before(async () => {
  server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  instance = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env["FLYTE_DATABRICKS_ACCESS_TOKEN"] = TOKEN;
  // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
  // Listing the fake's origin lets the connector call it (loopback) and send it the deployment's token.
  service = await serveForTest([new DatabricksConnector({ insecureHttp: true, retry: { retries: 1, minDelay: 1, maxDelay: 5 }, allowedOrigins: [`http://${instance}`] })], { protocol: "grpc" });
  client = flyte1Client(service.handle.port);
});

after(async () => {
  if (savedToken === undefined) delete process.env["FLYTE_DATABRICKS_ACCESS_TOKEN"];
  else process.env["FLYTE_DATABRICKS_ACCESS_TOKEN"] = savedToken;
  client.close();
  await service.close();
  server.close();
});

const newCluster = { spark_version: "13.3.x-scala2.12", node_type_id: "i3.xlarge", num_workers: 2 };
/** The container args propeller renders for a flytekit Python task. */
const flytekitArgs = ["pyflyte-fast-execute", "--additional-distribution", "s3://b/fast/abc.tar.gz", "--dest-dir", ".", "--", "pyflyte-execute", "--inputs", "s3://b/in/inputs.pb", "--output-prefix", "s3://b/out/0", "--raw-output-data-prefix", "s3://b/raw", "--resolver", "flytekit.core.python_auto_container.default_task_resolver", "--", "task-module", "wf", "task-name", "hello_spark"];

/** flytekit's PysparkFunctionTask.get_custom for a Databricks config: SparkJob as JSON (camelCase, defaults omitted). */
function flytekitTemplate(custom: Record<string, unknown>) {
  return create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wf.hello_spark", version: "v1" },
    type: "databricks",
    metadata: { runtime: { type: 1, version: "1.14.3", flavor: "python" } },
    custom: {
      sparkConf: { "spark.driver.memory": "1000M" },
      applicationFile: "local:///usr/local/bin/entrypoint.py",
      executorPath: "/usr/bin/python3",
      sparkType: "PYTHON",
      databricksInstance: instance,
      ...custom,
    },
    target: { case: "container", value: { image: "ghcr.io/acme/flytekit-spark:1", args: flytekitArgs, env: [{ key: "FLYTE_INTERNAL_IMAGE", value: "ghcr.io/acme/flytekit-spark:1" }] } },
  });
}

test("a flytekit Databricks task: submitted as flytekit's connector submits it, polled to SUCCEEDED, cancelled", async () => {
  const { resourceMeta } = await client.createTask({ template: flytekitTemplate({ databricksConf: { run_name: "flytekit", new_cluster: { ...newCluster } } }), outputPrefix: "s3://b/out/0" });
  const run = submitted.at(-1)!;
  assert.equal(run.authorization, `Bearer ${TOKEN}`, "the deployment's token, as flytekit's connector uses");
  const { idempotency_token: _, ...body } = run.body;
  assert.deepEqual(body, {
    run_name: "flytekit",
    new_cluster: {
      ...newCluster,
      docker_image: { url: "ghcr.io/acme/flytekit-spark:1" },
      spark_conf: { "spark.driver.memory": "1000M" },
      spark_env_vars: { FLYTE_INTERNAL_IMAGE: "ghcr.io/acme/flytekit-spark:1", FLYTE_FAIL_ON_ERROR: "true" },
    },
    spark_python_task: { python_file: "flytekitplugins/databricks/entrypoint.py", source: "GIT", parameters: flytekitArgs },
    git_source: { git_url: "https://github.com/flyteorg/flytetools", git_provider: "gitHub", git_commit: "572298df1f971fb58c258398bd70a6372f811c96" },
  });
  assert.equal(new TextDecoder().decode(resourceMeta), `{"databricks_instance": "${instance}", "run_id": "${submitted.length}"}`);
  const { resource } = await client.getTask("databricks", resourceMeta);
  assert.equal(resource?.phase, Phase.SUCCEEDED);
  await client.deleteTask("databricks", resourceMeta);
  assert.equal(run.cancels, 1);
});

test("flytekit's databricksConf python_file/git_source overrides and notebook tasks", async () => {
  const gitSource = { git_url: "https://github.com/acme/jobs", git_provider: "gitHub", git_branch: "main" };
  await client.createTask({ template: flytekitTemplate({ databricksConf: { existing_cluster_id: "0101-abc", python_file: "jobs/entry.py", git_source: gitSource } }) });
  const custom = submitted.at(-1)!.body;
  assert.deepEqual(custom["spark_python_task"], { python_file: "jobs/entry.py", source: "GIT", parameters: flytekitArgs });
  assert.deepEqual(custom["git_source"], gitSource);
  assert.equal(custom["python_file"], undefined);

  await client.createTask({
    template: flytekitTemplate({ databricksConf: { existing_cluster_id: "0101-abc", git_source: gitSource }, notebookPath: "notebooks/etl", notebookBaseParameters: { day: "2026-12-01" } }),
  });
  const notebook = submitted.at(-1)!.body;
  assert.deepEqual(notebook["notebook_task"], { notebook_path: "notebooks/etl", base_parameters: { day: "2026-12-01" }, source: "GIT" });
  assert.equal(notebook["spark_python_task"], undefined);
});

test("flytekit's serverless form: a one-task run in the job's environment, with the container env and the credential provider", async () => {
  await client.createTask({
    template: flytekitTemplate({
      databricksConf: { run_name: "serverless", environment_key: "flyte", environments: [{ environment_key: "flyte", spec: { client: "2", environment_vars: { A: "1" } } }] },
      databricksServiceCredentialProvider: "my-provider",
    }),
  });
  const { idempotency_token: _, ...body } = submitted.at(-1)!.body;
  assert.deepEqual(body, {
    run_name: "serverless",
    environments: [{ environment_key: "flyte", spec: { client: "2", environment_vars: { A: "1", FLYTE_INTERNAL_IMAGE: "ghcr.io/acme/flytekit-spark:1", FLYTE_FAIL_ON_ERROR: "true" } } }],
    tasks: [
      {
        task_key: "flyte_task",
        spark_python_task: { python_file: "flytekitplugins/databricks/entrypoint_serverless.py", source: "GIT", parameters: [...flytekitArgs, "--flyte-credential-provider=my-provider"] },
        environment_key: "flyte",
      },
    ],
    git_source: { git_url: "https://github.com/flyteorg/flytetools", git_provider: "gitHub", git_commit: "572298df1f971fb58c258398bd70a6372f811c96" },
  });
  // No environments given: a "default" one is created (Databricks needs it in the submission).
  await client.createTask({ template: flytekitTemplate({ databricksConf: { environment_key: "default" } }) });
  assert.deepEqual(submitted.at(-1)!.body["environments"], [{ environment_key: "default", spec: { client: "1", environment_vars: { FLYTE_INTERNAL_IMAGE: "ghcr.io/acme/flytekit-spark:1", FLYTE_FAIL_ON_ERROR: "true" } } }]);
});

test("a meta written by flytekit's connector is polled and cancelled", async () => {
  await client.createTask({ template: flytekitTemplate({ databricksConf: { existing_cluster_id: "0101-abc" } }) });
  const meta = new TextEncoder().encode(JSON.stringify({ databricks_instance: instance, run_id: String(submitted.length) }));
  assert.equal((await client.getTask("databricks", meta)).resource?.phase, Phase.SUCCEEDED);
  await client.deleteTask("databricks", meta);
  assert.equal(submitted.at(-1)!.cancels, 1);
});
