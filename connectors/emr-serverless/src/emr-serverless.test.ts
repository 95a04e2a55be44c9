// The EMR Serverless connector through the gRPC service (serveForTest), against a local FAKE of the EMR Serverless
// API (fake-emr-serverless.test-support.ts) reached by the real AWS SDK v3 client with explicit test credentials.
process.env["AWS_EC2_METADATA_DISABLED"] = "true"; // never reach for instance metadata, whatever a test does

import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, beforeEach, describe, test } from "node:test";
import { pino } from "pino";
import { create } from "@bufbuild/protobuf";
import { TaskExecutionMetadataSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { ConnectorRegistry, Phase, attemptToken, runTask } from "flyte-connectors";
import { serveForTest, type TestService } from "@flyte-connectors/service/testing";
import { AsyncConnectorService, ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import connectors from "./connectors.js";
import { FAILURE_DETAILS, FakeEmrServerless } from "./fake-emr-serverless.test-support.js";
import { EmrServerlessConnector, EmrServerlessTask, type EmrServerlessConnectorOptions } from "./index.js";

const APP = "00fapp0000000001";
const DENIED_APP = "00fdenied0000001";
const NAMED_APP = "00fnamed00000001";
const REGION = "us-west-2";
const ROLE = "arn:aws:iam::123456789012:role/EMRServerlessJobRole";
const CREDENTIALS = { accessKeyId: "AKIAFAKETESTKEY00001", secretAccessKey: "fakeSecret/Key+0123456789abcdefGHIJ", sessionToken: "FAKE-session-token-0123456789abcdef" };
const A = AsyncConnectorService.method;
const category = { name: "emr_serverless", version: 0 };
const decoder = new TextDecoder();

let fake: FakeEmrServerless;
const logLines: string[] = [];
const logger = pino({ level: "trace" }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));

before(async () => {
  // Enough applications for two ListApplications pages; "etl-app" is on the second, a terminated namesake on the first.
  const others = Array.from({ length: 55 }, (_, i) => `00fother${String(i).padStart(8, "0")}`);
  fake = await FakeEmrServerless.start({
    accessKeyId: CREDENTIALS.accessKeyId,
    region: REGION,
    applications: [APP, DENIED_APP, ...others, NAMED_APP],
    denied: [DENIED_APP],
    described: { [NAMED_APP]: { name: "etl-app", state: "STOPPED" }, [others[0]!]: { name: "etl-app", state: "TERMINATED" } },
  });
});
after(() => fake.close());
beforeEach(() => fake.clearFaults());

const connector = (options: EmrServerlessConnectorOptions = {}) =>
  new EmrServerlessConnector({ endpoint: fake.endpoint, region: REGION, credentials: CREDENTIALS, ...options });

function executionMetadata(run: string, attempt = 0) {
  return {
    taskExecutionId: {
      taskId: { project: "p", domain: "d", name: "etl", version: "v1" },
      nodeExecutionId: { nodeId: "a0", executionId: { project: "p", domain: "d", name: run, org: "o" } },
      retryAttempt: attempt,
    },
    environmentVariables: { RUN_NAME: run, WITH_SPACE: "a b" },
  };
}

/** A CreateTask request as the backend sends it for a script-mode task (custom keys as flytekit's EMRServerless writes them). */
function createRequest(custom: Record<string, unknown>, run: string, attempt = 0, name = "etl") {
  return {
    template: {
      id: { name },
      type: "emr_serverless",
      custom: {
        execution_role_arn: ROLE,
        release_label: "emr-7.0.0",
        application_type: "SPARK",
        execution_timeout_minutes: 30,
        sync_image: true,
        inject_flyte_env: true,
        application_id: APP,
        spark_job_driver: { entryPoint: "s3://bucket/jobs/etl.py", entryPointArguments: ["--day", "2026-12-01"], sparkSubmitParameters: "--conf spark.executor.memory=4g" },
        ...custom,
      },
    },
    outputPrefix: `s3://bucket/shard/${run}/a0/${attempt + 1}`,
    taskExecutionMetadata: executionMetadata(run, attempt),
  };
}

describe("EMR Serverless connector through the gRPC service", () => {
  let service: TestService;
  before(async () => {
    service = await serveForTest([connector()], { logger });
  });
  after(() => service.close());

  const createTask = async (custom: Record<string, unknown>, run: string, attempt = 0, name?: string) =>
    (await service.client.unary(A.createTask, createRequest(custom, run, attempt, name))).resourceMeta;
  const get = async (resourceMeta: Uint8Array) => (await service.client.unary(A.getTask, { taskCategory: category, resourceMeta, outputPrefix: "s3://x/1" })).resource!;
  const del = (resourceMeta: Uint8Array) => service.client.unary(A.deleteTask, { taskCategory: category, resourceMeta });
  const runOf = (meta: Uint8Array) => fake.runs.get((JSON.parse(decoder.decode(meta)) as { job_run_id: string }).job_run_id)!;
  const rejects = async (promise: Promise<unknown>, code: string, pattern: RegExp) =>
    assert.rejects(promise, (error: { code: number; details: string }) => {
      assert.equal(error.code, GRPC[code], `${code} expected, got ${error.code}: ${error.details}`);
      assert.match(error.details, pattern);
      return true;
    });

  test("a script-mode task: StartJobRun as flytekit's connector sends it, then QUEUED → RUNNING → SUCCEEDED with log links", async () => {
    const meta = await createTask({ spark_submit_parameters: "--conf spark.dynamicAllocation.enabled=false", tags: { team: "data" } }, "run-ok");
    const run = runOf(meta);
    // Meta bytes as Python's json.dumps(asdict(EMRServerlessJobMetadata)) writes them.
    assert.equal(
      decoder.decode(meta),
      `{"application_id": "${APP}", "job_run_id": "${run.jobRunId}", "region": "${REGION}", "created_application": false, "is_script_mode": true, "pending_job_request": null}`,
    );
    const { clientToken, jobDriver, ...request } = run.request;
    const { outputPrefix, taskExecutionMetadata } = createRequest({}, "run-ok");
    assert.equal(clientToken, attemptToken({ outputPrefix, taskExecutionMetadata: create(TaskExecutionMetadataSchema, taskExecutionMetadata) }));
    assert.deepEqual(request, { executionRoleArn: ROLE, tags: { Application: "flyte", ManagedBy: "flyte-connector", team: "data" }, executionTimeoutMinutes: 30, name: "etl" });
    const spark = jobDriver.sparkSubmit;
    assert.equal(spark.entryPoint, "s3://bucket/jobs/etl.py");
    assert.deepEqual(spark.entryPointArguments, ["--day", "2026-12-01"]);
    // The driver's parameters, the task's extra ones, then the Flyte context for driver and executors; a value with a space is left out.
    assert.ok(spark.sparkSubmitParameters.startsWith("--conf spark.executor.memory=4g --conf spark.dynamicAllocation.enabled=false --conf spark.emr-serverless.driverEnv."), spark.sparkSubmitParameters);
    for (const variable of ["FLYTE_INTERNAL_EXECUTION_ID=run-ok", "FLYTE_INTERNAL_NODE_ID=a0", "FLYTE_INTERNAL_TASK_NAME=etl", "FLYTE_INTERNAL_TASK_RETRY_ATTEMPT=0", "RUN_NAME=run-ok"]) {
      assert.ok(spark.sparkSubmitParameters.includes(`--conf spark.emr-serverless.driverEnv.${variable} --conf spark.executorEnv.${variable}`), variable);
    }
    assert.ok(!spark.sparkSubmitParameters.includes("WITH_SPACE"));

    const seen: Array<[number, string]> = [];
    let resource;
    do {
      resource = await get(meta);
      seen.push([resource.phase, resource.message]);
    } while (resource.phase !== Phase.SUCCEEDED && seen.length < 10);
    assert.deepEqual(seen.map(([phase]) => phase), [Phase.QUEUED, Phase.QUEUED, Phase.QUEUED, Phase.RUNNING, Phase.SUCCEEDED]);
    assert.deepEqual(seen.map(([, message]) => message.split(" ").at(-1)), ["SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "SUCCESS"]);
    assert.ok(resource.outputs, "script mode: the outputs field is present, so the backend writes outputs.pb");
    assert.deepEqual(resource.outputs.literals, []);
    assert.deepEqual(
      resource.logLinks.map((link) => [link.name, link.uri]),
      [
        ["EMR Serverless Console", `https://${REGION}.console.aws.amazon.com/emr/home?region=${REGION}#/serverless/${APP}/jobs/${run.jobRunId}`],
        ["Spark UI", `https://p-${run.jobRunId}-${APP}.emrappui-prod.${REGION}.amazonaws.com/shs/?authToken=fake-${run.jobRunId}`],
      ],
    );
    // Delete of a finished run (EMR refuses to cancel it) is OK.
    await del(meta);
    assert.equal(run.state, "SUCCESS");
  });

  test("a failed run is FAILED with EMR's stateDetails; a queued one is QUEUED", async () => {
    const meta = await createTask({}, "run-fail", 0, "fail");
    let resource;
    for (let i = 0; i < 6 && resource?.phase !== Phase.FAILED; i++) resource = await get(meta);
    assert.equal(resource?.phase, Phase.FAILED);
    assert.equal(resource?.message, `EMR Serverless job run ${runOf(meta).jobRunId} is FAILED: ${FAILURE_DETAILS}`);
    assert.equal(resource?.outputs, undefined);

    const queued = await createTask({}, "run-queued", 0, "queued");
    const phases = [];
    for (let i = 0; i < 4; i++) phases.push((await get(queued)).phase);
    assert.deepEqual(phases, [Phase.QUEUED, Phase.QUEUED, Phase.QUEUED, Phase.RUNNING]);
  });

  test("delete cancels a running run (CANCELLING → ABORTED) and is idempotent: again, after the end, for unknown runs", async () => {
    const meta = await createTask({}, "run-cancel", 0, "forever");
    const run = runOf(meta);
    assert.equal((await get(meta)).phase, Phase.QUEUED);
    assert.equal((await get(meta)).phase, Phase.RUNNING);
    await del(meta);
    assert.equal(run.state, "CANCELLING");
    await del(meta); // cancelling already: OK
    const cancelling = await get(meta);
    assert.equal(cancelling.phase, Phase.RUNNING);
    assert.match(cancelling.message, /CANCELLING/);
    const cancelled = await get(meta);
    assert.equal(cancelled.phase, Phase.ABORTED);
    assert.match(cancelled.message, /CANCELLED/);
    await del(meta); // finished: EMR says it cannot be cancelled, which is what delete wants
    assert.equal(run.cancels, 3);
    const unknown = new TextEncoder().encode(JSON.stringify({ application_id: APP, job_run_id: "00f9999999999999", region: REGION }));
    await del(unknown);
    const gone = await get(unknown);
    assert.equal(gone.phase, Phase.FAILED);
    assert.match(gone.message, /job run 00f9999999999999 of application 00fapp0000000001 in us-west-2 does not exist/);
  });

  test("a create retried for the same attempt finds the first run (client token); the next attempt starts a new one", async () => {
    const first = await createTask({}, "run-retry", 0);
    const runs = fake.runs.size;
    const again = await createTask({}, "run-retry", 0);
    assert.deepEqual(again, first);
    assert.equal(fake.runs.size, runs, "no second run");
    // The reply of the first StartJobRun lost (a 500 after the run started is retried by the SDK with the same token).
    fake.fail("StartJobRun", 500, "InternalServerException", "Internal error");
    assert.deepEqual(await createTask({}, "run-retry", 0), first);
    assert.equal(fake.runs.size, runs);
    const next = await createTask({}, "run-retry", 1);
    assert.notDeepEqual(next, first);
    assert.equal(fake.runs.size, runs + 1);
  });

  test("an application named instead of identified is looked up (created, started or stopped ones), as flytekit's connector does", async () => {
    const meta = await createTask({ application_id: "etl-app" }, "by-name");
    assert.match(decoder.decode(meta), new RegExp(`"application_id": "${NAMED_APP}"`));
    assert.equal(runOf(meta).applicationId, NAMED_APP);
    assert.equal(fake.requests.filter((r) => r.operation === "ListApplications").length >= 2, true, "both pages read");
    await rejects(createTask({ application_id: "no-such-app" }, "by-name-2"), "NOT_FOUND", /custom\.application_id "no-such-app" is neither an application id nor the name of a created, started or stopped EMR Serverless application in us-west-2/);
  });

  test("bad configs are INVALID_ARGUMENT naming the problem: the connector's checks and EMR's ValidationException", async () => {
    const sent = fake.count("StartJobRun");
    await rejects(createTask({ execution_role_arn: "" }, "v1"), "INVALID_ARGUMENT", /custom\.execution_role_arn is required/);
    await rejects(createTask({ application_id: undefined, application_name: "etl-app" }, "v2"), "INVALID_ARGUMENT", /custom\.application_id is required: .*does not create one/);
    await rejects(createTask({ application_id: "My App" }, "v3"), "INVALID_ARGUMENT", /custom\.application_id must be an application id/);
    await rejects(createTask({ hive_job_driver: { query: "SELECT 1" } }, "v4"), "INVALID_ARGUMENT", /both set/);
    await rejects(createTask({ spark_job_driver: { entryPointArguments: ["x"] } }, "v5"), "INVALID_ARGUMENT", /custom\.spark_job_driver\.entryPoint is required/);
    await rejects(createTask({ execution_timeout_minutes: 0 }, "v6"), "INVALID_ARGUMENT", /custom\.execution_timeout_minutes must be a whole number/);
    await rejects(createTask({ region: "us-east-1.evil.example" }, "v7"), "INVALID_ARGUMENT", /custom\.region must be an AWS region/);
    assert.equal(fake.count("StartJobRun"), sent, "the connector's own checks send nothing");
    const before = fake.count("StartJobRun");
    await rejects(
      createTask({ execution_role_arn: "arn:aws:iam::123:role/short-account" }, "v9"),
      "INVALID_ARGUMENT",
      /^EMR Serverless StartJobRun for application 00fapp0000000001 failed: ValidationException: 1 validation error detected: Value 'arn:aws:iam::123:role\/short-account' at 'executionRoleArn' failed to satisfy constraint/,
    );
    assert.equal(fake.count("StartJobRun"), before + 1, "a validation error is not retried");
  });

  test("throttling and 5xx are retried by the SDK; when they persist: create UNAVAILABLE, get the last phase (non-terminal)", async () => {
    fake.fail("StartJobRun", 429, "ThrottlingException", "Rate exceeded", 2);
    const before = fake.count("StartJobRun");
    const meta = await createTask({}, "run-throttled");
    assert.equal(fake.count("StartJobRun"), before + 3, "two throttled attempts, then the run");
    assert.equal((await get(meta)).phase, Phase.QUEUED);
    assert.equal((await get(meta)).phase, Phase.QUEUED);

    fake.fail("GetJobRun", 503, "ServiceUnavailableException", "Service unavailable", 3);
    const during = await get(meta);
    assert.equal(during.phase, Phase.QUEUED, "the last known phase, not a failure");
    assert.match(during.message, /Status temporarily unavailable \(EMR Serverless GetJobRun for job run \w+ of application 00fapp0000000001 failed: ServiceUnavailableException/);
    assert.equal((await get(meta)).phase, Phase.QUEUED, "polling goes on after the outage");

    // Persistent throttling (with maxAttempts 2, to keep the SDK's throttling back-off short).
    const impatient = await serveForTest([connector({ maxAttempts: 2 })]);
    try {
      fake.fail("StartJobRun", 429, "ThrottlingException", "Rate exceeded", 2);
      const sent = fake.count("StartJobRun");
      await rejects(
        impatient.client.unary(A.createTask, createRequest({}, "run-throttled-out")),
        "UNAVAILABLE",
        /^EMR Serverless StartJobRun for application 00fapp0000000001 failed: ThrottlingException: Rate exceeded \(still failing after the AWS SDK's retries\)/,
      );
      assert.equal(fake.count("StartJobRun"), sent + 2);
    } finally {
      await impatient.close();
    }
    fake.fail("CancelJobRun", 500, "InternalServerException", "Internal error", 3);
    await rejects(del(meta), "UNAVAILABLE", /CancelJobRun for job run \w+ of application 00fapp0000000001 failed: InternalServerException/);
  });

  test("access denied is PERMISSION_DENIED, refused credentials FAILED_PRECONDITION, a missing application NOT_FOUND", async () => {
    await rejects(createTask({ application_id: DENIED_APP }, "denied"), "PERMISSION_DENIED", /StartJobRun for application 00fdenied0000001 failed: AccessDeniedException: User: .* is not authorized to perform: emr-serverless:StartJobRun/);
    await rejects(createTask({ application_id: "00fmissing000001" }, "missing"), "NOT_FOUND", /StartJobRun for application 00fmissing000001 failed: ResourceNotFoundException: Application 00fmissing000001 does not exist/);
    const other = await serveForTest([connector({ credentials: { accessKeyId: "AKIAWRONGKEY0000001", secretAccessKey: "wrong-secret-0123456789" } })], { logger });
    try {
      await assert.rejects(other.client.unary(A.createTask, createRequest({}, "wrong-key")), (error: { code: number; details: string }) => {
        assert.equal(error.code, GRPC["FAILED_PRECONDITION"]);
        assert.match(error.details, /UnrecognizedClientException: The security token included in the request is invalid/);
        assert.ok(!error.details.includes("AKIAWRONGKEY0000001"));
        return true;
      });
    } finally {
      await other.close();
    }
  });

  test("no credentials, or no region, is FAILED_PRECONDITION saying what is missing", async () => {
    const noCredentials = async () => {
      throw Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
    };
    const saved = { region: process.env["AWS_REGION"], defaultRegion: process.env["AWS_DEFAULT_REGION"], config: process.env["AWS_CONFIG_FILE"], profile: process.env["AWS_PROFILE"] };
    delete process.env["AWS_REGION"];
    delete process.env["AWS_DEFAULT_REGION"];
    delete process.env["AWS_PROFILE"];
    process.env["AWS_CONFIG_FILE"] = "/nonexistent/aws-config";
    const other = await serveForTest([connector({ credentials: noCredentials })]);
    const regionless = await serveForTest([new EmrServerlessConnector({ endpoint: fake.endpoint, credentials: CREDENTIALS })]);
    try {
      await assert.rejects(other.client.unary(A.createTask, createRequest({}, "no-credentials")), (error: { code: number; details: string }) => {
        assert.equal(error.code, GRPC["FAILED_PRECONDITION"], error.details);
        assert.match(error.details, /StartJobRun for application 00fapp0000000001 failed: the connector found no AWS credentials/);
        return true;
      });
      await assert.rejects(regionless.client.unary(A.createTask, createRequest({}, "no-region")), (error: { code: number; details: string }) => {
        assert.equal(error.code, GRPC["FAILED_PRECONDITION"], error.details);
        assert.match(error.details, /no AWS region: set custom\.region on the task, or AWS_REGION for the connector/);
        return true;
      });
      // The task's region is enough.
      const { resourceMeta } = await regionless.client.unary(A.createTask, createRequest({ region: "eu-west-1" }, "task-region"));
      assert.match(decoder.decode(resourceMeta), /"region": "eu-west-1"/);
    } finally {
      await other.close();
      await regionless.close();
      for (const [key, name] of [["region", "AWS_REGION"], ["defaultRegion", "AWS_DEFAULT_REGION"], ["config", "AWS_CONFIG_FILE"], ["profile", "AWS_PROFILE"]] as const) {
        if (saved[key] === undefined) delete process.env[name];
        else process.env[name] = saved[key];
      }
    }
  });

  test("credentials never reach errors or logs, even when EMR echoes them", async () => {
    // logLines holds every log line of this suite so far (trace level): all must be free of the credentials.
    await rejects(createTask({}, "echo", 0, "echo"), "INVALID_ARGUMENT", /ValidationException: Request signed with AWS4-HMAC-SHA256 Credential=\*\*\*\*\*\/\d{8}\/us-west-2\/emr-serverless\/aws4_request.* and session \*\*\*\*\* is not valid/);
    const request = fake.requests.at(-1)!;
    assert.ok(request.authorization?.includes(CREDENTIALS.accessKeyId) && request.securityToken === CREDENTIALS.sessionToken, "the fake did receive them");
    // And in the INTERNAL path, whose cause the service logs.
    fake.fail("StartJobRun", 418, "TeapotException", `I am a teapot, key ${CREDENTIALS.accessKeyId} token ${CREDENTIALS.sessionToken} secret ${CREDENTIALS.secretAccessKey}`);
    await assert.rejects(createTask({}, "teapot"), (error: { details: string }) => !error.details.includes(CREDENTIALS.accessKeyId));
    const logs = logLines.join("");
    assert.match(logs, /request failed/);
    for (const secret of [CREDENTIALS.accessKeyId, CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken]) {
      assert.ok(!logs.includes(secret), `logs hold ${secret.slice(0, 6)}…`);
    }
  });

  test("Pythonic mode (no job driver): the task's container args through the configured entry point, else FAILED_PRECONDITION", async () => {
    const template = (run: string) => {
      const request = createRequest({ spark_job_driver: undefined, spark_submit_parameters: "--conf spark.executorEnv.PYSPARK_PYTHON=/opt/venv/bin/python" }, run);
      return { ...request, template: { ...request.template, target: { case: "container" as const, value: { image: "acme/spark:1", args: ["pyflyte-execute", "--inputs", "s3://b/in.pb"] } } } };
    };
    await rejects(service.client.unary(A.createTask, template("py-none")), "FAILED_PRECONDITION", /Pythonic mode.*FLYTE_EMR_ENTRYPOINT_URI/);
    const pythonic = await serveForTest([connector({ pythonicEntryPoint: "s3://bucket/flyte/emr-serverless/entrypoint-abc.py" })]);
    try {
      const { resourceMeta } = await pythonic.client.unary(A.createTask, template("py-ok"));
      assert.match(decoder.decode(resourceMeta), /"is_script_mode": false/);
      const spark = runOf(resourceMeta).request.jobDriver.sparkSubmit;
      assert.equal(spark.entryPoint, "s3://bucket/flyte/emr-serverless/entrypoint-abc.py");
      assert.deepEqual(spark.entryPointArguments, ["pyflyte-execute", "--inputs", "s3://b/in.pb"]);
      // The user's PYSPARK_PYTHON wins over the default; the other defaults are added.
      assert.ok(
        spark.sparkSubmitParameters.startsWith(
          "--conf spark.executorEnv.PYSPARK_PYTHON=/opt/venv/bin/python --conf spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON=/usr/bin/python3 --conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON=/usr/bin/python3 --conf spark.emr-serverless.driverEnv.FLYTE_INTERNAL",
        ),
        spark.sparkSubmitParameters,
      );
      let resource;
      for (let i = 0; i < 6 && resource?.phase !== Phase.SUCCEEDED; i++) resource = (await pythonic.client.unary(A.getTask, { taskCategory: category, resourceMeta })).resource;
      assert.equal(resource?.phase, Phase.SUCCEEDED);
      assert.equal(resource?.outputs, undefined, "Pythonic tasks write their own outputs.pb");
    } finally {
      await pythonic.close();
    }
  });

  test("a run the Python connector deferred (pending_job_request) is submitted once, with its client token, then polled", async () => {
    const pending = {
      execution_role_arn: ROLE,
      job_driver: { hive: { query: "SELECT 1" } },
      configuration_overrides: null,
      tags: { Application: "flyte", ManagedBy: "flyte-connector" },
      execution_timeout_minutes: 60,
      name: "hive_query",
      retry_policy: null,
      client_token: "3f1c2b7d9e8a4c6b8d0e1f2a3b4c5d6e",
    };
    const meta = new TextEncoder().encode(JSON.stringify({ application_id: APP, job_run_id: "", region: REGION, created_application: false, is_script_mode: true, pending_job_request: pending }));
    const before = fake.runs.size;
    assert.equal((await get(meta)).phase, Phase.QUEUED);
    assert.equal((await get(meta)).phase, Phase.QUEUED);
    assert.equal(fake.runs.size, before + 1, "one run for both polls");
    const run = [...fake.runs.values()].at(-1)!;
    assert.deepEqual(run.request, { executionRoleArn: ROLE, jobDriver: { hive: { query: "SELECT 1" } }, clientToken: pending.client_token, tags: pending.tags, executionTimeoutMinutes: 60, name: "hive_query" });
    await del(meta);
    assert.equal(run.state, "CANCELLING");
    assert.equal(fake.runs.size, before + 1);
  });

  test("ListConnectors lists emr_serverless (the package's discovered connectors)", async () => {
    const listed = await serveForTest(connectors);
    try {
      const { connectors: list } = await listed.client.unary(ConnectorMetadataService.method.listConnectors, {});
      assert.ok(list.some((c) => c.supportedTaskCategories.some((t) => t.name === "emr_serverless")));
    } finally {
      await listed.close();
    }
  });
});

test("EmrServerlessTask: flytekit's custom keys, checked at declaration; runTask runs it to SUCCEEDED", async () => {
  const task = new EmrServerlessTask({
    name: "nightly_etl",
    applicationId: APP,
    executionRoleArn: ROLE,
    sparkJobDriver: { entryPoint: "s3://bucket/jobs/etl.py", entryPointArguments: ["--day", "2026-12-01"] },
    tags: { team: "data" },
    region: REGION,
  });
  const template = task.toTaskTemplate();
  assert.equal(template.type, "emr_serverless");
  assert.deepEqual(template.custom, {
    execution_role_arn: ROLE,
    release_label: "emr-7.0.0",
    application_type: "SPARK",
    execution_timeout_minutes: 60,
    sync_image: true,
    inject_flyte_env: true,
    application_id: APP,
    spark_job_driver: { entryPoint: "s3://bucket/jobs/etl.py", entryPointArguments: ["--day", "2026-12-01"] },
    tags: { team: "data" },
    region: REGION,
  });
  assert.throws(() => new EmrServerlessTask({ name: "bad", applicationId: "Not An Id", executionRoleArn: ROLE, sparkJobDriver: { entryPoint: "s3://b/x.py" } }), /custom\.application_id must be an application id/);
  assert.throws(() => new EmrServerlessTask({ name: "none", applicationId: APP, executionRoleArn: ROLE }), /needs sparkJobDriver or hiveJobDriver/);

  const registry = new ConnectorRegistry().register(connector());
  const outputs = await runTask(task, {}, { registry, pollInterval: 1, quiet: true });
  assert.deepEqual(outputs, {});
  assert.equal([...fake.runs.values()].at(-1)!.request["name"], "nightly_etl");
});

const GRPC: Record<string, number> = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, FAILED_PRECONDITION: 9, INTERNAL: 13, UNAVAILABLE: 14 };
