// The SageMaker connectors through the gRPC service (serveForTest: the protocol FLYTE_CONNECTOR_TEST_PROTOCOL
// names), against a fake SageMaker on 127.0.0.1 (testing/fake-sagemaker.ts) reached by the official AWS SDK v3
// clients with an explicit endpoint and explicit test credentials.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, beforeEach, describe, test } from "node:test";
import { pino } from "pino";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { ConnectorRegistry, decodeOutputs, encodeInputs, Phase, runTask, types, type ConnectorTask, type TypeSpecs } from "flyte-connectors";
import { rejectsWith, serveForTest, type TestService } from "@flyte-connectors/service/testing";
import {
  BotoConnector,
  BotoTask,
  SageMakerEndpointConfigTask,
  SageMakerEndpointConnector,
  SageMakerEndpointMetadata,
  SageMakerEndpointTask,
  SageMakerModelTask,
} from "./index.js";
import { FAKE_ACCOUNT, FakeSageMaker } from "./testing/fake-sagemaker.js";

process.env["AWS_EC2_METADATA_DISABLED"] = "true";
const A = AsyncConnectorService.method;
const STATUS = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;
const KEY_ID = "AKIAFAKEDEPLOYMENT01";
const SECRET = "deployment/Secret+Key0123456789abcdefghij";
const DEPLOYMENT_SESSION = "IQoJb3JpZ2luX2VjEDEPLOYMENT//session+token/abc==";
const REGION = "us-east-2";
const ROLE = `arn:aws:iam::${FAKE_ACCOUNT}:role/sagemaker-role`;

let fake: FakeSageMaker;
let service: TestService;
const logLines: string[] = [];
const logger = pino({ level: "trace" }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));

before(async () => {
  fake = await new FakeSageMaker().start();
  fake.keys.set(KEY_ID, SECRET);
  const aws = { endpoints: { sagemaker: fake.url, "sagemaker-runtime": fake.url }, credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: DEPLOYMENT_SESSION }, maxAttempts: 2 };
  service = await serveForTest([new SageMakerEndpointConnector({ ...aws, pollBudget: 5000 }), new BotoConnector(aws)], { logger });
});

after(async () => {
  await service?.close();
  await fake?.close();
});

beforeEach(() => {
  fake.creatingPolls = 1;
  fake.echoSessionToken = false;
});

async function createRequest<I extends TypeSpecs, O extends TypeSpecs>(task: ConnectorTask<I, O>, values: Record<string, unknown> = {}, secrets: Record<string, string> = {}) {
  return {
    template: task.toTaskTemplate(),
    inputs: await encodeInputs(values, task.inputs),
    outputPrefix: "s3://bucket/shard/run/a0/1",
    connection: { secrets },
  };
}
const category = (name: string) => ({ name, version: 0 });
const create = async (...args: Parameters<typeof createRequest>) => (await service.client.unary(A.createTask, await createRequest(...args))).resourceMeta;
const get = async (taskType: string, resourceMeta: Uint8Array, secrets: Record<string, string> = {}) =>
  (await service.client.unary(A.getTask, { taskCategory: category(taskType), resourceMeta, outputPrefix: "s3://bucket/out", connection: { secrets } })).resource!;
const remove = (taskType: string, resourceMeta: Uint8Array) => service.client.unary(A.deleteTask, { taskCategory: category(taskType), resourceMeta, connection: { secrets: {} } });
/** A sync (boto) task: CreateTask runs it, the first GetTask answers its result. */
async function runBoto<I extends TypeSpecs>(task: BotoTask<I>, values: Record<string, unknown> = {}, secrets: Record<string, string> = {}) {
  const resource = await get("boto", await create(task, values, secrets), secrets);
  assert.equal(resource.phase, Phase.SUCCEEDED, resource.message);
  return (await decodeOutputs(resource.outputs, { result: types.struct, idempotence_token: types.string })) as { result: Record<string, unknown>; idempotence_token: string };
}

const TRITON = "{account_id}.dkr.ecr.{region}.{base}/sagemaker-tritonserver:23.12-py3";

/** The three tasks of flytekit's `create_sagemaker_deployment("xgb", …)` with idempotence tokens. */
function deployment(suffix: string) {
  const model = new SageMakerModelTask({
    name: `sagemaker-model-${suffix}`,
    config: {
      ModelName: `xgb-${suffix}-{idempotence_token}`,
      PrimaryContainer: { Image: "{images.primary_container_image}", ModelDataUrl: "{inputs.model_path}" },
      ExecutionRoleArn: ROLE,
    },
    region: REGION,
    images: { primary_container_image: TRITON },
    inputs: { model_path: types.string },
  });
  const endpointConfig = new SageMakerEndpointConfigTask({
    name: `sagemaker-endpoint-config-${suffix}`,
    config: {
      EndpointConfigName: `xgb-${suffix}-{idempotence_token}`,
      ProductionVariants: [{ VariantName: "variant-name-1", ModelName: `xgb-${suffix}-{inputs.idempotence_token}`, InitialInstanceCount: 1, InstanceType: "ml.m4.xlarge" }],
    },
    region: REGION,
    inputs: { idempotence_token: types.string },
  });
  const endpoint = new SageMakerEndpointTask({
    name: `sagemaker-endpoint-${suffix}`,
    config: { EndpointName: `xgb-${suffix}-{idempotence_token}`, EndpointConfigName: `xgb-${suffix}-{inputs.idempotence_token}` },
    region: REGION,
    inputs: { idempotence_token: types.string },
  });
  return { model, endpointConfig, endpoint };
}

/** Deploys model, endpoint config and endpoint as the workflow does; returns the endpoint's meta (Creating). */
async function deploy(suffix: string) {
  const { model, endpointConfig, endpoint } = deployment(suffix);
  const modelOut = await runBoto(model, { model_path: "s3://models/xgb/model.tar.gz" });
  const configOut = await runBoto(endpointConfig, { idempotence_token: modelOut.idempotence_token });
  const meta = await create(endpoint, { idempotence_token: configOut.idempotence_token });
  return { modelOut, configOut, meta, endpointTask: endpoint, endpointInputs: { idempotence_token: configOut.idempotence_token } };
}

describe("sagemaker-endpoint and the deployment's boto calls", () => {
  test("create_model → create_endpoint_config → endpoint Creating → InService, names chained by idempotence tokens", async () => {
    const { modelOut, configOut, meta } = await deploy("ok");
    assert.match(modelOut.idempotence_token, /^[0-9a-f]{16}$/);
    const createModel = fake.calls("SageMaker.CreateModel").at(-1)!;
    assert.equal(createModel.region, REGION, "signed for the task's region");
    assert.equal(createModel.accessKeyId, KEY_ID);
    assert.deepEqual(createModel.json, {
      ModelName: `xgb-ok-${modelOut.idempotence_token}`,
      PrimaryContainer: { Image: "007439368137.dkr.ecr.us-east-2.amazonaws.com/sagemaker-tritonserver:23.12-py3", ModelDataUrl: "s3://models/xgb/model.tar.gz" },
      ExecutionRoleArn: ROLE,
    });
    assert.deepEqual(modelOut.result, { ModelArn: `arn:aws:sagemaker:${REGION}:${FAKE_ACCOUNT}:model/xgb-ok-${modelOut.idempotence_token}` });
    const createConfig = fake.calls("SageMaker.CreateEndpointConfig").at(-1)!.json!;
    assert.equal(createConfig["EndpointConfigName"], `xgb-ok-${configOut.idempotence_token}`);
    assert.deepEqual(createConfig["ProductionVariants"], [{ VariantName: "variant-name-1", ModelName: `xgb-ok-${modelOut.idempotence_token}`, InitialInstanceCount: 1, InstanceType: "ml.m4.xlarge" }]);
    assert.deepEqual(configOut.result, { EndpointConfigArn: `arn:aws:sagemaker:${REGION}:${FAKE_ACCOUNT}:endpoint-config/xgb-ok-${configOut.idempotence_token}` });
    assert.notEqual(modelOut.idempotence_token, configOut.idempotence_token);

    const createEndpoint = fake.calls("SageMaker.CreateEndpoint").at(-1)!.json!;
    const endpointName = createEndpoint["EndpointName"] as string;
    assert.match(endpointName, /^xgb-ok-[0-9a-f]{16}$/);
    assert.equal(createEndpoint["EndpointConfigName"], `xgb-ok-${configOut.idempotence_token}`);
    const decoded = SageMakerEndpointMetadata.decode(meta);
    assert.deepEqual([decoded.endpointName, decoded.region, decoded.inputs ?? null], [endpointName, REGION, null]);

    const creating = await get("sagemaker-endpoint", meta);
    assert.equal(creating.phase, Phase.RUNNING);
    assert.match(creating.message, /Creating/);
    assert.deepEqual(creating.logLinks.map((link) => [link.name, link.uri]), [
      ["SageMaker Endpoint", `https://${REGION}.console.aws.amazon.com/sagemaker/home?region=${REGION}#/endpoints/${endpointName}`],
      ["SageMaker Endpoint Logs", `https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FEndpoints$252F${endpointName}`],
    ]);
    const done = await get("sagemaker-endpoint", meta);
    assert.equal(done.phase, Phase.SUCCEEDED, done.message);
    assert.deepEqual(await decodeOutputs(done.outputs, { result: types.struct }), { result: { EndpointArn: `arn:aws:sagemaker:${REGION}:${FAKE_ACCOUNT}:endpoint/${endpointName}` } });
  });

  test("a retried create (same attempt, same config) finds the endpoint it made: one endpoint, the same meta", async () => {
    const { meta, endpointTask, endpointInputs } = await deploy("retry");
    const before = fake.endpoints.size;
    const again = await create(endpointTask, endpointInputs);
    assert.deepEqual(again, meta);
    assert.equal(fake.endpoints.size, before);
    // And the boto creates, retried, answer the ARN of what exists (flytekit's "already existing" handling).
    const { model } = deployment("retry");
    const out = await runBoto(model, { model_path: "s3://models/xgb/model.tar.gz" });
    assert.match(String(out.result["ModelArn"]), /^arn:aws:sagemaker:us-east-2:123456789012:model\/xgb-retry-[0-9a-f]{16}$/);
  });

  test("an endpoint that fails answers FAILED with SageMaker's FailureReason", async () => {
    const { model, endpointConfig, endpoint } = deployment("bad");
    const modelOut = await runBoto(model, { model_path: "s3://models/xgb/broken.tar.gz" });
    const configOut = await runBoto(endpointConfig, { idempotence_token: modelOut.idempotence_token });
    const reason = "The primary container for production variant variant-name-1 did not pass the ping health check.";
    fake.failEndpoint(`xgb-bad-${configOut.idempotence_token}`, reason);
    fake.creatingPolls = 0;
    const meta = await create(endpoint, { idempotence_token: configOut.idempotence_token });
    const resource = await get("sagemaker-endpoint", meta);
    assert.equal(resource.phase, Phase.FAILED);
    assert.equal(resource.message, reason);
  });

  test("delete is idempotent: a Creating endpoint is deleted, again is fine, an unknown one is fine; a serving one stays", async () => {
    fake.creatingPolls = 5;
    const { meta } = await deploy("del");
    const name = SageMakerEndpointMetadata.decode(meta).endpointName;
    assert.ok(fake.endpoints.has(name));
    await remove("sagemaker-endpoint", meta);
    assert.ok(!fake.endpoints.has(name), "the endpoint being created was deleted");
    await remove("sagemaker-endpoint", meta);
    const never = new SageMakerEndpointMetadata({ config: { EndpointName: "never-created" }, region: REGION, inputs: null }).encode();
    await remove("sagemaker-endpoint", never);
    const gone = await get("sagemaker-endpoint", meta);
    assert.equal(gone.phase, Phase.FAILED);
    assert.match(gone.message, new RegExp(`endpoint ${name} does not exist in ${REGION}`));

    fake.creatingPolls = 0;
    const served = await deploy("keep");
    assert.equal((await get("sagemaker-endpoint", served.meta)).phase, Phase.SUCCEEDED);
    await remove("sagemaker-endpoint", served.meta); // a Flyte 2 backend also deletes finished tasks
    assert.ok(fake.endpoints.has(SageMakerEndpointMetadata.decode(served.meta).endpointName), "the deployed endpoint is left serving");
  });

  test("deleteServingEndpoints: delete removes a serving endpoint too (flytekit's behaviour)", async () => {
    fake.creatingPolls = 0;
    const { meta } = await deploy("always");
    const connector = new SageMakerEndpointConnector({ endpoints: { sagemaker: fake.url }, credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET }, deleteServingEndpoints: true });
    const resourceMeta = SageMakerEndpointMetadata.decode(meta);
    const call = { resourceMeta, outputPrefix: "", secrets: {}, configs: {}, signal: AbortSignal.timeout(5000) };
    assert.equal((await connector.get(call)).phase, Phase.SUCCEEDED);
    await connector.delete(call);
    assert.ok(!fake.endpoints.has(resourceMeta.endpointName));
    await connector.delete(call);
  });

  test("a meta that is not ours (or not an endpoint name) is INVALID_ARGUMENT", async () => {
    const bad = new TextEncoder().encode(JSON.stringify({ config: { EndpointName: "../../x" }, region: REGION, inputs: null }));
    assert.match(await rejectsWith(get("sagemaker-endpoint", bad), STATUS.INVALID_ARGUMENT), /EndpointName/);
    const pickle = Uint8Array.from([0x80, 0x05, 0x95, 0x10]);
    await rejectsWith(get("sagemaker-endpoint", pickle), STATUS.INVALID_ARGUMENT);
  });
});

describe("boto: allowed methods", () => {
  test("invoke_endpoint: the model's reply as result.Body, with ContentType, the variant and ResponseMetadata", async () => {
    fake.creatingPolls = 0;
    const { meta } = await deploy("invoke");
    const name = SageMakerEndpointMetadata.decode(meta).endpointName;
    assert.equal((await get("sagemaker-endpoint", meta)).phase, Phase.SUCCEEDED);
    const invoke = new BotoTask({
      name: "predict",
      service: "sagemaker-runtime",
      method: "invoke_endpoint",
      config: { EndpointName: "{inputs.endpoint_name}", ContentType: "application/json", Body: '{"features": {inputs.features}}' },
      region: REGION,
      inputs: { endpoint_name: types.string, features: types.list(types.float) },
    });
    const out = await runBoto(invoke, { endpoint_name: name, features: [1.5, 2, 3.25] });
    const seen = fake.calls("runtime:invoke").at(-1)!;
    // flytekit splices the list's Python str() into the text.
    assert.equal(seen.body.toString(), '{"features": [1.5, 2.0, 3.25]}');
    assert.equal(seen.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(String(out.result["Body"])), { endpoint: name, received: '{"features": [1.5, 2.0, 3.25]}', contentType: "application/json" });
    assert.equal(out.result["ContentType"], "application/json");
    assert.equal(out.result["InvokedProductionVariant"], "AllTraffic");
    const metadata = out.result["ResponseMetadata"] as Record<string, unknown>;
    assert.equal(metadata["HTTPStatusCode"], 200);
    assert.equal(metadata["RetryAttempts"], 0);
    assert.match(String(metadata["RequestId"]), /^[0-9a-f-]{36}$/);
    assert.equal(out.idempotence_token, "");
  });

  test("invoke_endpoint_async (flytekit's SageMakerInvokeEndpointTask) and describe_endpoint (timestamps as ISO text)", async () => {
    fake.creatingPolls = 0;
    const { meta } = await deploy("async");
    const name = SageMakerEndpointMetadata.decode(meta).endpointName;
    await get("sagemaker-endpoint", meta);
    const asyncOut = await runBoto(
      new BotoTask({ name: "predict-async", service: "sagemaker-runtime", method: "invoke_endpoint_async", config: { EndpointName: name, InputLocation: "s3://in/payload.json" }, region: REGION }),
    );
    assert.match(String(asyncOut.result["InferenceId"]), /^[0-9a-f-]{36}$/);
    assert.equal(asyncOut.result["OutputLocation"], `s3://fake-bucket/async-out/${String(asyncOut.result["InferenceId"])}.out`);
    assert.equal(fake.calls("runtime:invoke-async").at(-1)!.headers["x-amzn-sagemaker-inputlocation"], "s3://in/payload.json");

    const described = await runBoto(new BotoTask({ name: "describe", service: "sagemaker", method: "describe_endpoint", config: { EndpointName: name }, region: REGION }));
    assert.equal(described.result["EndpointStatus"], "InService");
    assert.match(String(described.result["CreationTime"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test("a method outside the allowlist is INVALID_ARGUMENT naming it and the allowed ones; nothing is sent", async () => {
    const calls = fake.seen.length;
    for (const [svc, method] of [["sagemaker", "create_presigned_domain_url"], ["sagemaker", "delete_domain"], ["iam", "create_access_key"]] as const) {
      const task = new BotoTask({ name: "evil", service: svc as "sagemaker", method, config: {}, region: REGION });
      const details = await rejectsWith(create(task), STATUS.INVALID_ARGUMENT);
      assert.match(details, new RegExp(`does not call ${svc}\\.${method}`));
      assert.match(details, /sagemaker\.create_model, .*sagemaker-runtime\.invoke_endpoint/);
    }
    assert.equal(fake.seen.length, calls);
  });

  test("bad configs are INVALID_ARGUMENT naming the key, before any call", async () => {
    const calls = fake.seen.length;
    const cases: Array<[Record<string, unknown>, RegExp, Record<string, unknown>?]> = [
      [{ EndpointNam: "x", EndpointConfigName: "y" }, /config: unknown parameter "EndpointNam", must be one of: EndpointName, EndpointConfigName/],
      [{ EndpointConfigName: "y" }, /config: missing required parameter "EndpointName"/],
      [{ EndpointName: "x", EndpointConfigName: "y", Tags: [{ Key: "team", Value: 7 }] }, /config\.Tags\[0\]\.Value must be a string, got number/],
      [{ EndpointName: "{inputs.nope}", EndpointConfigName: "y" }, /config\.EndpointName: \{inputs\.nope\} has no value: there is no "nope" in inputs \(it has "name"\)/, { name: "n" }],
    ];
    for (const [config, pattern, values] of cases) {
      const task = new BotoTask({ name: "bad", service: "sagemaker", method: "create_endpoint", config: config as never, region: REGION, ...(values ? { inputs: { name: types.string } } : {}) });
      assert.match(await rejectsWith(create(task, values ?? {}), STATUS.INVALID_ARGUMENT), pattern);
    }
    const noRegion = new SageMakerEndpointTask({ name: "no-region", config: { EndpointName: "x", EndpointConfigName: "y" } });
    assert.match(await rejectsWith(create(noRegion), STATUS.INVALID_ARGUMENT), /Region parameter is required/);
    const badRegion = new SageMakerEndpointTask({ name: "bad-region", config: { EndpointName: "x", EndpointConfigName: "y" }, region: "moon-1.evil.com/" });
    assert.match(await rejectsWith(create(badRegion), STATUS.INVALID_ARGUMENT), /is not an AWS region name/);
    assert.equal(fake.seen.length, calls);
  });
});

describe("AWS errors", () => {
  const endpointTask = (name: string) => new SageMakerEndpointTask({ name: "e", config: { EndpointName: name, EndpointConfigName: "missing-config" }, region: REGION });

  test("ValidationException → INVALID_ARGUMENT, AccessDenied → PERMISSION_DENIED, quota → RESOURCE_EXHAUSTED, unknown key → UNAUTHENTICATED, naming the operation", async () => {
    assert.match(await rejectsWith(create(endpointTask("val")), STATUS.INVALID_ARGUMENT), /^SageMaker CreateEndpoint failed: ValidationException: Could not find endpoint configuration/);
    fake.inject("SageMaker.CreateEndpoint", { status: 400, type: "AccessDeniedException", message: "User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: sagemaker:CreateEndpoint" });
    assert.match(await rejectsWith(create(endpointTask("denied")), STATUS.PERMISSION_DENIED), /^SageMaker CreateEndpoint failed: AccessDeniedException: User: .* not authorized/);
    fake.inject("SageMaker.CreateEndpoint", { status: 400, type: "ResourceLimitExceeded", message: "The account-level service limit 'ml.m4.xlarge for endpoint usage' is 0 Instances. Please use AWS Service Quotas to request an increase for this quota." });
    assert.match(await rejectsWith(create(endpointTask("quota")), STATUS.RESOURCE_EXHAUSTED), /ResourceLimitExceeded: .*Service Quotas/);
    // SageMaker Runtime (restJson1: the code in x-amzn-ErrorType): the model's container answered an error.
    fake.creatingPolls = 0;
    const { meta } = await deploy("modelerror");
    await get("sagemaker-endpoint", meta);
    fake.inject("runtime:invoke", { status: 424, type: "ModelError", message: "Received server error (500) from primary with message \"boom\"." });
    const invoke = new BotoTask({ name: "p", service: "sagemaker-runtime", method: "invoke_endpoint", config: { EndpointName: SageMakerEndpointMetadata.decode(meta).endpointName, Body: "x" }, region: REGION });
    assert.match(await rejectsWith(create(invoke), STATUS.FAILED_PRECONDITION), /^SageMaker Runtime InvokeEndpoint failed: ModelError: Received server error \(500\)/);
    const stranger = new SageMakerEndpointConnector({ endpoints: { sagemaker: fake.url }, credentials: { accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "x".repeat(40) } });
    const request = { ...(await createRequest(endpointTask("who"))), custom: { config: { EndpointName: "who", EndpointConfigName: "c" }, region: REGION } };
    await assert.rejects(stranger.create({ ...request, taskTemplate: request.template, inputs: {}, taskExecutionMetadata: undefined, secrets: {}, configs: {}, signal: AbortSignal.timeout(5000) } as never), {
      code: "UNAUTHENTICATED",
      message: /^SageMaker CreateEndpoint failed: UnrecognizedClientException/,
    });
  });

  test("throttling is retried by the SDK; when it persists, create is UNAVAILABLE and a poll reports the last phase", async () => {
    const throttle = { status: 400, type: "ThrottlingException", message: "Rate exceeded" };
    fake.inject("SageMaker.CreateModel", throttle);
    const model = new SageMakerModelTask({ name: "m", config: { ModelName: "throttled-once", ExecutionRoleArn: ROLE }, region: REGION });
    const before = fake.calls("SageMaker.CreateModel").length;
    await runBoto(model);
    assert.equal(fake.calls("SageMaker.CreateModel").length - before, 2, "one throttled call, one retry");

    fake.inject("SageMaker.CreateEndpoint", throttle, 2);
    assert.match(await rejectsWith(create(endpointTask("throttled")), STATUS.UNAVAILABLE), /^SageMaker CreateEndpoint failed: ThrottlingException: Rate exceeded/);

    fake.creatingPolls = 10;
    const { meta } = await deploy("poll");
    assert.equal((await get("sagemaker-endpoint", meta)).phase, Phase.RUNNING);
    fake.inject("SageMaker.DescribeEndpoint", { status: 503, type: "ServiceUnavailable", message: "try later" }, 2);
    const during = await get("sagemaker-endpoint", meta);
    assert.equal(during.phase, Phase.RUNNING);
    assert.match(during.message, /temporarily unavailable.*SageMaker DescribeEndpoint failed: ServiceUnavailable/);
  });

  test("task credentials (secrets aws_access_key_id, …) sign the call and never appear in errors, metas or logs", async () => {
    const taskKey = "AKIATASKOWNKEY000001";
    const taskSecret = "task/Secret+Key/abcdefghijklmnopqrstuvwxyz0123";
    const sessionToken = "FwoGZXIvYXdzEFAKE//session+token/ZXhhbXBsZQ==";
    fake.keys.set(taskKey, taskSecret);
    const secrets = { aws_access_key_id: taskKey, aws_secret_access_key: taskSecret, aws_session_token: sessionToken };
    const model = new SageMakerModelTask({ name: "m", config: { ModelName: "with-task-keys", ExecutionRoleArn: ROLE }, region: REGION, secrets: { aws_access_key_id: "K", aws_secret_access_key: "S", aws_session_token: "T" } });
    const out = await runBoto(model, {}, secrets);
    assert.match(String(out.result["ModelArn"]), /with-task-keys$/);
    const signed = fake.calls("SageMaker.CreateModel").at(-1)!;
    assert.equal(signed.accessKeyId, taskKey);
    assert.equal(signed.headers["x-amz-security-token"], sessionToken);

    fake.echoSessionToken = true;
    fake.inject("SageMaker.CreateModel", { status: 400, type: "AccessDeniedException", message: "not authorized" });
    const details = await rejectsWith(create(new SageMakerModelTask({ name: "m", config: { ModelName: "denied", ExecutionRoleArn: ROLE }, region: REGION }), {}, secrets), STATUS.PERMISSION_DENIED);
    assert.match(details, /not authorized \(session \*+\)/, "the echoed token is redacted");
    // The deployment's own credentials (which the service knows nothing of) are redacted as well.
    fake.inject("SageMaker.CreateModel", { status: 400, type: "AccessDeniedException", message: "not authorized" });
    const deploymentDetails = await rejectsWith(create(new SageMakerModelTask({ name: "m", config: { ModelName: "denied", ExecutionRoleArn: ROLE }, region: REGION })), STATUS.PERMISSION_DENIED);
    assert.match(deploymentDetails, /not authorized \(session \*+\)/, "the echoed deployment token is redacted");
    const meta = await create(endpointTask("never"), {}, secrets).catch(() => new Uint8Array());
    for (const text of [details, deploymentDetails, new TextDecoder().decode(meta), logLines.join("")]) {
      for (const secret of [taskSecret, sessionToken, SECRET, DEPLOYMENT_SESSION]) assert.ok(!text.includes(secret), "no credential in what the service answered or logged");
    }
    assert.ok(logLines.length > 0, "the service did log the calls");
    const halfDetails = await rejectsWith(create(model, {}, { aws_access_key_id: taskKey }), STATUS.FAILED_PRECONDITION);
    assert.match(halfDetails, /need both aws_access_key_id and aws_secret_access_key/);
  });
});

test("runTask (local run): the deployment chain and a prediction, in process", async () => {
  fake.creatingPolls = 1;
  const aws = { endpoints: { sagemaker: fake.url, "sagemaker-runtime": fake.url }, credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET } };
  const registry = new ConnectorRegistry().register(new SageMakerEndpointConnector(aws)).register(new BotoConnector(aws));
  const { model, endpointConfig, endpoint } = deployment("local");
  const m = await runTask(model, { model_path: "s3://models/xgb/model.tar.gz" }, { registry });
  const c = await runTask(endpointConfig, { idempotence_token: m.idempotence_token }, { registry });
  const { result } = await runTask(endpoint, { idempotence_token: c.idempotence_token }, { registry, pollInterval: 10 });
  const name = String(result["EndpointArn"]).split("/")[1]!;
  assert.match(name, /^xgb-local-[0-9a-f]{16}$/);
  const predict = new BotoTask({ name: "predict", service: "sagemaker-runtime", method: "invoke_endpoint", config: { EndpointName: name, Body: { rows: [[1, 2]] } }, region: REGION });
  const reply = await runTask(predict, {}, { registry });
  assert.equal(JSON.parse(String(reply.result["Body"]))["received"], '{"rows":[[1,2]]}', "a dict Body is sent as its JSON");
});
