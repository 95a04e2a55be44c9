// Flyte 1: task templates exactly as flytekit's plugin (flytekitplugins.awssagemaker_inference) writes them —
// `create_sagemaker_deployment` / `delete_sagemaker_deployment` workflows' BotoTask and SageMakerEndpointTask, and
// SageMakerInvokeEndpointTask — through the service's Flyte 1 agent services as propeller calls them: the boto tasks
// with ExecuteTaskSync, the endpoint with CreateTask/GetTask/DeleteTask. flytekit's connectors sign with the
// deployment's AWS credential chain (Flyte 1 sends no secrets): here the SDK's default chain reads the environment.
// SageMaker is the fake of testing/fake-sagemaker.ts on 127.0.0.1.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { decodeOutputs, encodeInputs, Phase, types } from "flyte-connectors";
import { flyte1Client, flyte2Outputs, serveForTest, type Flyte1Client, type TestService } from "@flyte-connectors/service/testing";
import { BotoConnector, SageMakerEndpointConnector } from "./index.js";
import { FAKE_ACCOUNT, FakeSageMaker } from "./testing/fake-sagemaker.js";

const ENV = { AWS_EC2_METADATA_DISABLED: "true", AWS_ACCESS_KEY_ID: "AKIAFLYTE1DEPLOYMENT", AWS_SECRET_ACCESS_KEY: "flyte1/Deployment+Secret0123456789abcd", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials", AWS_CONFIG_FILE: "/nonexistent/config" };
const saved = Object.fromEntries(Object.keys(ENV).map((key) => [key, process.env[key]]));
const ROLE = `arn:aws:iam::${FAKE_ACCOUNT}:role/sagemaker-role`;
const IMAGE = "1234567890.dkr.ecr.us-east-2.amazonaws.com/xgboost:latest";
const MODEL_PATH = "s3://flyte-demo/xgboost/model.tar.gz";
// The tokens flytekit computes for these configs and inputs: its sorted_dict_str of the rendered config hashed with
// python-xxhash 3.2.0's xxh64 (computed outside this test, from flytekit's algorithm).
const MODEL_TOKEN = "6580a3cef32ac793";
const CONFIG_TOKEN = "2628575deb6043ab";
const ENDPOINT_TOKEN = "47443d3846290641";

let fake: FakeSageMaker;
let service: TestService;
let client: Flyte1Client;

before(async () => {
  Object.assign(process.env, ENV);
  fake = await new FakeSageMaker().start();
  fake.keys.set(ENV.AWS_ACCESS_KEY_ID, ENV.AWS_SECRET_ACCESS_KEY);
  const endpoints = { sagemaker: fake.url, "sagemaker-runtime": fake.url };
  // gRPC whatever FLYTE_CONNECTOR_TEST_PROTOCOL says: Flyte 1 backends call the Flyte 1 services over gRPC only.
  service = await serveForTest([new SageMakerEndpointConnector({ endpoints }), new BotoConnector({ endpoints })], { protocol: "grpc" });
  client = flyte1Client(service.handle.port);
});

after(async () => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  client?.close();
  await service?.close();
  await fake?.close();
});

// flytekit's interface types: str → STRING, dict → STRUCT with the msgpack annotation (DictTransformer).
const variables = (specs: Record<string, { literalType: unknown }>) => ({
  variables: Object.keys(specs)
    .sort()
    .map((key) => ({ key, value: { type: specs[key]!.literalType as never } })),
});
const BOTO_OUTPUTS = { result: types.struct, idempotence_token: types.string };

/** A template as flytekit serializes a PythonTask without container: type, custom (get_custom), interface. */
function flytekitTemplate(name: string, type: string, custom: Record<string, unknown>, inputs: Record<string, { literalType: unknown }>, outputs: Record<string, { literalType: unknown }>) {
  return create(TaskTemplateSchema, {
    id: { resourceType: 1, project: "flytesnacks", domain: "development", name, version: "v1" },
    type,
    metadata: { runtime: { type: 1, version: "1.15.0", flavor: "python" }, retries: {} },
    interface: { inputs: variables(inputs), outputs: variables(outputs) },
    custom: custom as never,
  });
}

/** BotoTask.get_custom: {service, config, region, method, images}. */
const botoTemplate = (name: string, method: string, config: Record<string, unknown>, inputs: Record<string, { literalType: unknown }>, extra: { region?: string | null; images?: Record<string, string> | null; service?: string } = {}) =>
  flytekitTemplate(name, "boto", { service: extra.service ?? "sagemaker", config, region: extra.region === undefined ? "us-east-2" : extra.region, method, images: extra.images ?? null }, inputs, BOTO_OUTPUTS);

const literals = async (values: Record<string, unknown>, specs: Parameters<typeof encodeInputs>[1]) =>
  Object.fromEntries((await encodeInputs(values, specs)).literals.map((named) => [named.name, named.value!]));

async function executeSync(template: ReturnType<typeof botoTemplate>, values: Record<string, unknown>, specs: Parameters<typeof encodeInputs>[1]) {
  const answers = await client.executeTaskSync({ template, outputPrefix: "s3://flyte-demo/metadata/a/1" }, await literals(values, specs));
  assert.equal(answers.length, 1);
  const header = answers[0]!.res.case === "header" ? answers[0]!.res.value : undefined;
  assert.equal(header?.resource?.phase, Phase.SUCCEEDED, header?.resource?.message);
  return (await decodeOutputs(flyte2Outputs(header?.resource?.outputs), BOTO_OUTPUTS)) as { result: Record<string, unknown>; idempotence_token: string };
}

test("ListAgents: sagemaker-endpoint is async, boto is sync", async () => {
  const { agents } = await client.listAgents();
  assert.deepEqual(agents.map((agent) => [agent.supportedTaskTypes, agent.isSync]).sort(), [[["boto"], true], [["sagemaker-endpoint"], false]]);
});

test("create_sagemaker_deployment: flytekit's three templates give flytekit's names (idempotence tokens), then the endpoint goes InService", async () => {
  // create_sagemaker_deployment("xgboost", …) appends "-{idempotence_token}" / "-{inputs.idempotence_token}" to the names.
  const model = botoTemplate(
    "sagemaker-model-xgboost",
    "create_model",
    { ModelName: "xgboost-{idempotence_token}", PrimaryContainer: { Image: "{images.primary_container_image}", ModelDataUrl: "{inputs.model_path}" }, ExecutionRoleArn: ROLE },
    { model_path: types.string },
    { images: { primary_container_image: IMAGE } },
  );
  const modelOut = await executeSync(model, { model_path: MODEL_PATH }, { model_path: types.string });
  assert.equal(modelOut.idempotence_token, MODEL_TOKEN);
  assert.deepEqual(modelOut.result, { ModelArn: `arn:aws:sagemaker:us-east-2:${FAKE_ACCOUNT}:model/xgboost-${MODEL_TOKEN}` });
  const createModel = fake.calls("SageMaker.CreateModel").at(-1)!;
  assert.deepEqual(createModel.json, { ModelName: `xgboost-${MODEL_TOKEN}`, PrimaryContainer: { Image: IMAGE, ModelDataUrl: MODEL_PATH }, ExecutionRoleArn: ROLE });
  assert.equal(createModel.accessKeyId, ENV.AWS_ACCESS_KEY_ID, "signed with the deployment's credentials (the SDK's default chain)");

  const endpointConfig = botoTemplate(
    "sagemaker-endpoint-config-xgboost",
    "create_endpoint_config",
    {
      EndpointConfigName: "xgboost-{idempotence_token}",
      ProductionVariants: [{ VariantName: "variant-name-1", ModelName: "xgboost-{inputs.idempotence_token}", InitialInstanceCount: 1, InstanceType: "ml.m4.xlarge", InitialVariantWeight: 0.5 }],
      AsyncInferenceConfig: { OutputConfig: { S3OutputPath: "s3://flyte-demo/async/" } },
    },
    { idempotence_token: types.string },
  );
  const configOut = await executeSync(endpointConfig, { idempotence_token: modelOut.idempotence_token }, { idempotence_token: types.string });
  assert.equal(configOut.idempotence_token, CONFIG_TOKEN);
  assert.deepEqual(configOut.result, { EndpointConfigArn: `arn:aws:sagemaker:us-east-2:${FAKE_ACCOUNT}:endpoint-config/xgboost-${CONFIG_TOKEN}` });

  // SageMakerEndpointTask.get_custom: {config, region}; output result: dict.
  const endpoint = flytekitTemplate(
    "sagemaker-endpoint-xgboost",
    "sagemaker-endpoint",
    { config: { EndpointName: "xgboost-{idempotence_token}", EndpointConfigName: "xgboost-{inputs.idempotence_token}" }, region: "us-east-2" },
    { idempotence_token: types.string },
    { result: types.struct },
  );
  const inputs = await literals({ idempotence_token: configOut.idempotence_token }, { idempotence_token: types.string });
  const { resourceMeta } = await client.createTask({ template: endpoint, inputs, outputPrefix: "s3://flyte-demo/metadata/e/1" });
  assert.deepEqual(fake.calls("SageMaker.CreateEndpoint").at(-1)!.json, { EndpointName: `xgboost-${ENDPOINT_TOKEN}`, EndpointConfigName: `xgboost-${CONFIG_TOKEN}` });
  // flytekit's SageMakerEndpointMetadata fields, as JSON.
  assert.equal(new TextDecoder().decode(resourceMeta), `{"config": {"EndpointName": "xgboost-${ENDPOINT_TOKEN}", "EndpointConfigName": "xgboost-${CONFIG_TOKEN}"}, "region": "us-east-2", "inputs": null}`);
  // A retried CreateTask (propeller timed out) creates nothing new.
  const again = await client.createTask({ template: endpoint, inputs, outputPrefix: "s3://flyte-demo/metadata/e/1" });
  assert.deepEqual(again.resourceMeta, resourceMeta);

  assert.equal((await client.getTask("sagemaker-endpoint", resourceMeta)).resource?.phase, Phase.RUNNING);
  const { resource } = await client.getTask("sagemaker-endpoint", resourceMeta);
  assert.equal(resource?.phase, Phase.SUCCEEDED, resource?.message);
  assert.deepEqual(await decodeOutputs(flyte2Outputs(resource?.outputs), { result: types.struct }), {
    result: { EndpointArn: `arn:aws:sagemaker:us-east-2:${FAKE_ACCOUNT}:endpoint/xgboost-${ENDPOINT_TOKEN}` },
  });

  // SageMakerInvokeEndpointTask: invoke_endpoint_async on sagemaker-runtime.
  const invoke = botoTemplate(
    "sagemaker-invoke-endpoint",
    "invoke_endpoint_async",
    { EndpointName: "{inputs.endpoint_name}", InputLocation: "s3://flyte-demo/inputs/payload.json" },
    { endpoint_name: types.string },
    { service: "sagemaker-runtime" },
  );
  const invoked = await executeSync(invoke, { endpoint_name: `xgboost-${ENDPOINT_TOKEN}` }, { endpoint_name: types.string });
  assert.match(String(invoked.result["OutputLocation"]), /^s3:\/\/fake-bucket\/async-out\/.+\.out$/);

  // delete_sagemaker_deployment: three boto tasks with config {"<Name>": "{inputs.<name>}"}.
  for (const [method, key, input, name] of [
    ["delete_endpoint", "EndpointName", "endpoint_name", `xgboost-${ENDPOINT_TOKEN}`],
    ["delete_endpoint_config", "EndpointConfigName", "endpoint_config_name", `xgboost-${CONFIG_TOKEN}`],
    ["delete_model", "ModelName", "model_name", `xgboost-${MODEL_TOKEN}`],
  ] as const) {
    const out = await executeSync(botoTemplate(`sagemaker-delete-${input}`, method, { [key]: `{inputs.${input}}` }, { [input]: types.string }), { [input]: name }, { [input]: types.string });
    assert.equal((out.result["ResponseMetadata"] as Record<string, unknown>)["HTTPStatusCode"], 200);
  }
  assert.equal(fake.endpoints.has(`xgboost-${ENDPOINT_TOKEN}`), false);
  assert.equal(fake.endpointConfigs.has(`xgboost-${CONFIG_TOKEN}`), false);
  assert.equal(fake.models.has(`xgboost-${MODEL_TOKEN}`), false);
  // DeleteTask of the endpoint task afterwards (propeller aborting late): nothing left, nothing to fail.
  await client.deleteTask("sagemaker-endpoint", resourceMeta);
});

test("region_at_runtime: the `region` input wins, and a Triton image is filled in for it", async () => {
  const model = botoTemplate(
    "sagemaker-model-triton",
    "create_model",
    { ModelName: "triton-{idempotence_token}", PrimaryContainer: { Image: "{images.primary_container_image}", ModelDataUrl: "{inputs.model_path}" }, ExecutionRoleArn: ROLE },
    { model_path: types.string, region: types.string },
    { region: null, images: { primary_container_image: "{account_id}.dkr.ecr.{region}.{base}/sagemaker-tritonserver:23.12-py3" } },
  );
  const out = await executeSync(model, { model_path: MODEL_PATH, region: "eu-west-1" }, { model_path: types.string, region: types.string });
  const seen = fake.calls("SageMaker.CreateModel").at(-1)!;
  assert.equal(seen.region, "eu-west-1");
  assert.deepEqual(seen.json!["PrimaryContainer"], { Image: "802834080501.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-tritonserver:23.12-py3", ModelDataUrl: MODEL_PATH });
  assert.match(String(out.result["ModelArn"]), /^arn:aws:sagemaker:eu-west-1:/);
});

test("a boto method outside the allowlist fails ExecuteTaskSync with INVALID_ARGUMENT; nothing reaches AWS", async () => {
  const calls = fake.seen.length;
  const template = botoTemplate("s3-delete", "delete_bucket", { Bucket: "prod-data" }, {}, { service: "s3" });
  await assert.rejects(client.executeTaskSync({ template }, {}), (error: { code: number; details: string }) => {
    assert.equal(error.code, 3, error.details);
    assert.match(error.details, /does not call s3\.delete_bucket: it calls only the allowed methods sagemaker\.create_model/);
    return true;
  });
  assert.equal(fake.seen.length, calls);
});
