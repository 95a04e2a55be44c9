// Flyte 1: emr_serverless task templates as flytekit's plugin (flytekitplugins-awsemrserverless, `EMRServerless`
// task config, `EMRServerlessTask.get_custom` = `EMRServerless.to_dict()`) writes them, run through the service's
// Flyte 1 agent services as Flyte 1's propeller calls them, against the FAKE EMR Serverless API. flytekit's connector
// takes credentials from the pod (boto3's chain); Flyte 1 sends no secrets, and neither does this test.
process.env["AWS_EC2_METADATA_DISABLED"] = "true";

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { Phase } from "flyte-connectors";
import { flyte1Client, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { FakeEmrServerless } from "./fake-emr-serverless.test-support.js";
import { EmrServerlessConnector } from "./index.js";

const APP = "00fhabc123450001";
const REGION = "us-east-1";
const ROLE = "arn:aws:iam::123456789012:role/EMRServerlessRole";
const CREDENTIALS = { accessKeyId: "AKIAFLYTE1TESTKEY001", secretAccessKey: "flyte1-secret-0123456789abcdef" };

let fake: FakeEmrServerless;
let service: TestService;
let client: Flyte1Client;

before(async () => {
  fake = await FakeEmrServerless.start({ accessKeyId: CREDENTIALS.accessKeyId, region: REGION, applications: [APP] });
  // The deployment's region and credentials (in a pod: AWS_REGION and IRSA); gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says.
  service = await serveForTest([new EmrServerlessConnector({ endpoint: fake.endpoint, region: REGION, credentials: CREDENTIALS })], { protocol: "grpc" });
  client = flyte1Client(service.handle.port);
});

after(async () => {
  client.close();
  await service.close();
  fake.close();
});

/** The container args propeller renders for a flytekit Python task. */
const flytekitArgs = ["pyflyte-fast-execute", "--additional-distribution", "s3://b/fast/abc.tar.gz", "--dest-dir", ".", "--", "pyflyte-execute", "--inputs", "s3://b/in/inputs.pb", "--output-prefix", "s3://b/out/0", "--raw-output-data-prefix", "s3://b/raw", "--resolver", "flytekit.core.python_auto_container.default_task_resolver", "--", "task-module", "wf", "task-name", "submit_script"];

/** A template as flytekit serializes an `@task(task_config=EMRServerless(...))`: custom = `EMRServerless.to_dict()`. */
function flytekitTemplate(custom: Record<string, unknown>) {
  return create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wf.submit_script", version: "v1" },
    type: "emr_serverless",
    metadata: { runtime: { type: 1, version: "1.16.31", flavor: "python" } },
    custom: {
      execution_role_arn: ROLE,
      release_label: "emr-7.0.0",
      application_type: "SPARK",
      execution_timeout_minutes: 60,
      sync_image: true,
      inject_flyte_env: true,
      application_id: APP,
      region: REGION,
      ...custom,
    },
    target: { case: "container", value: { image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/flyte-emr:1", args: flytekitArgs } },
  });
}

/** Propeller's task execution metadata for execution `name` (each test its own: the client token is per attempt). */
const executionMetadata = (name: string) => ({
  taskExecutionId: {
    taskId: { resourceType: 1, project: "flytesnacks", domain: "development", name: "wf.submit_script", version: "v1" },
    nodeExecutionId: { nodeId: "n0", executionId: { project: "flytesnacks", domain: "development", name } },
    retryAttempt: 0,
  },
  namespace: "flytesnacks-development",
});

test("a flytekit script-mode task: submitted as flytekit's connector submits it, polled to SUCCEEDED with an empty output map, cancelled", async () => {
  const template = flytekitTemplate({
    spark_job_driver: { entryPoint: "s3://my-bucket/scripts/main.py", entryPointArguments: ["--date", "2025-01-01"], sparkSubmitParameters: "--conf spark.executor.memory=4g" },
    configuration_overrides: { monitoringConfiguration: { s3MonitoringConfiguration: { logUri: "s3://my-bucket/logs/" } } },
    application_configuration: [{ classification: "spark-defaults", properties: { "spark.sql.shuffle.partitions": "64" } }],
    retry_policy: { maxAttempts: 2 },
  });
  const { resourceMeta } = await client.createTask({ template, outputPrefix: "s3://b/out/0", taskExecutionMetadata: executionMetadata("f8a1b2c3") });
  const run = [...fake.runs.values()].at(-1)!;
  assert.equal(
    new TextDecoder().decode(resourceMeta),
    `{"application_id": "${APP}", "job_run_id": "${run.jobRunId}", "region": "${REGION}", "created_application": false, "is_script_mode": true, "pending_job_request": null}`,
  );
  const { clientToken, jobDriver, ...request } = run.request;
  assert.match(clientToken, /^flyte-[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(request, {
    executionRoleArn: ROLE,
    configurationOverrides: {
      monitoringConfiguration: { s3MonitoringConfiguration: { logUri: "s3://my-bucket/logs/" } },
      applicationConfiguration: [{ classification: "spark-defaults", properties: { "spark.sql.shuffle.partitions": "64" } }],
    },
    tags: { Application: "flyte", ManagedBy: "flyte-connector" },
    executionTimeoutMinutes: 60,
    name: "wf.submit_script",
    retryPolicy: { maxAttempts: 2 },
  });
  assert.deepEqual(jobDriver.sparkSubmit.entryPointArguments, ["--date", "2025-01-01"]);
  assert.equal(
    jobDriver.sparkSubmit.sparkSubmitParameters,
    "--conf spark.executor.memory=4g " +
      ["FLYTE_INTERNAL_TASK_PROJECT=flytesnacks", "FLYTE_INTERNAL_TASK_DOMAIN=development", "FLYTE_INTERNAL_TASK_NAME=wf.submit_script", "FLYTE_INTERNAL_TASK_VERSION=v1", "FLYTE_INTERNAL_NODE_ID=n0", "FLYTE_INTERNAL_EXECUTION_ID=f8a1b2c3", "FLYTE_INTERNAL_EXECUTION_PROJECT=flytesnacks", "FLYTE_INTERNAL_EXECUTION_DOMAIN=development", "FLYTE_INTERNAL_TASK_RETRY_ATTEMPT=0"]
        .map((v) => `--conf spark.emr-serverless.driverEnv.${v} --conf spark.executorEnv.${v}`)
        .join(" "),
  );

  let resource;
  for (let i = 0; i < 8 && resource?.phase !== Phase.SUCCEEDED; i++) resource = (await client.getTask("emr_serverless", resourceMeta)).resource;
  assert.equal(resource?.phase, Phase.SUCCEEDED);
  assert.ok(resource?.outputs, "an (empty) LiteralMap, as flytekit's connector returns for script mode");
  assert.deepEqual(Object.keys(resource.outputs.literals), []);
  assert.equal(resource.logLinks[0]?.uri, `https://${REGION}.console.aws.amazon.com/emr/home?region=${REGION}#/serverless/${APP}/jobs/${run.jobRunId}`);
  await client.deleteTask("emr_serverless", resourceMeta);
  assert.equal(run.cancels, 1);
});

test("a flytekit Hive task, and a meta written by flytekit's connector: polled and cancelled here", async () => {
  const { resourceMeta } = await client.createTask({
    template: flytekitTemplate({ application_type: "HIVE", inject_flyte_env: false, hive_job_driver: { query: "SELECT COUNT(*) FROM my_table", initQueryFile: "s3://b/init.sql" } }),
    taskExecutionMetadata: executionMetadata("f8hive01"),
  });
  const run = [...fake.runs.values()].at(-1)!;
  assert.deepEqual(run.request["jobDriver"], { hive: { query: "SELECT COUNT(*) FROM my_table", initQueryFile: "s3://b/init.sql" } });
  // Bytes as the Python connector's json.dumps(asdict(EMRServerlessJobMetadata)) wrote them for the same run.
  const pythonMeta = new TextEncoder().encode(
    `{"application_id": "${APP}", "job_run_id": "${run.jobRunId}", "region": "${REGION}", "created_application": false, "is_script_mode": true, "pending_job_request": null}`,
  );
  assert.equal(new TextDecoder().decode(resourceMeta), new TextDecoder().decode(pythonMeta));
  const first = (await client.getTask("emr_serverless", pythonMeta)).resource;
  assert.equal(first?.phase, Phase.QUEUED);
  let resource;
  for (let i = 0; i < 4 && resource?.phase !== Phase.RUNNING; i++) resource = (await client.getTask("emr_serverless", pythonMeta)).resource;
  assert.deepEqual(resource?.logLinks.map((link) => link.name), ["EMR Serverless Console", "Tez UI"], "a Hive run's application UI is Tez's");
  // The fake's run has finished by now (RUNNING was its last step before SUCCESS): EMR refuses the cancel, delete is OK.
  await client.deleteTask("emr_serverless", pythonMeta);
  assert.equal(run.cancels, 1);
  assert.equal(run.state, "SUCCESS");
});
