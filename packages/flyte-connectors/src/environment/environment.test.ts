import assert from "node:assert/strict";
import { test } from "node:test";
import { type JsonObject, toJson } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { ConnectorTask, type TypeSpecs } from "../task/index.js";
import { FlyteFile, types } from "../types/index.js";
import { FunctionTask, TaskEnvironment, TaskPluginRegistry, type FunctionTaskClass } from "./index.js";

/** A test plugin, written the way packages/plugins writes Ray, Spark, Dask and PyTorch. */
class Sparkle {
  constructor(readonly executors: number) {}
}
class SparkleTask extends FunctionTask<TypeSpecs, TypeSpecs> {
  override get taskType(): string {
    return "sparkle";
  }
  override get taskTypeVersion(): number {
    return 2;
  }
  protected override customConfig(): JsonObject {
    return { executors: (this.pluginConfig as Sparkle).executors };
  }
}
/** A generic plugin class fits FunctionTaskClass as well. */
class GenericPluginTask<I extends TypeSpecs, O extends TypeSpecs> extends FunctionTask<I, O> {
  override get taskType(): string {
    return "generic";
  }
}
const genericFits: FunctionTaskClass = GenericPluginTask;
void genericFits;

test("env.task declares a FunctionTask named <env>.<name> with the environment's settings and typed inputs/outputs", async () => {
  const env = new TaskEnvironment({ name: "hello_world", resources: { memory: "250Mi" }, env: { MODE: "test" }, image: "ghcr.io/acme/app:1" });
  const train = env.task(
    { name: "train_model", inputs: { epochs: types.int }, outputs: { model: types.file }, resources: { cpu: 2 } },
    async ({ epochs }) => ({ model: new FlyteFile(`s3://m/${Number(epochs)}`) }),
  );
  assert.ok(train instanceof FunctionTask);
  assert.equal(train.name, "hello_world.train_model");
  assert.equal(train.shortName, "train_model");
  assert.equal(train.environmentName, "hello_world");
  assert.deepEqual(train.resources, { cpu: 2 }); // the task's own setting wins, as in Python's env.task(resources=…)
  assert.deepEqual(train.env, { MODE: "test" });
  assert.equal(train.image, "ghcr.io/acme/app:1");
  assert.equal(train.taskType, "python");
  assert.equal(train.taskTypeVersion, 0);
  assert.equal(env.tasks.get("hello_world.train_model"), train);
  const out = await train.fn({ epochs: 3 });
  assert.equal(out.model.uri, "s3://m/3");
  assert.throws(() => env.task({ name: "train_model" }, () => ({})), /already has a task named "train_model"/);
  // flyte-sdk accepts snake_case or kebab-case only
  for (const bad of ["bad name", "Hello", "_x", "a__b", "a-", ""]) {
    assert.throws(() => new TaskEnvironment({ name: bad }), /TaskEnvironment needs a snake_case or kebab-case name/, bad);
  }
  assert.equal(new TaskEnvironment({ name: "my-env_2" }).name, "my-env_2");
});

test("the environment's interruptible applies to its tasks unless a task sets it; undefined settings keep the environment's", () => {
  // flyte-sdk TaskEnvironment.task: interruptible if interruptible is not None else self.interruptible
  const env = new TaskEnvironment({ name: "spot", interruptible: true, resources: { memory: "1Gi" } });
  const inherits = env.task({ name: "a", resources: undefined, interruptible: undefined }, () => ({}));
  assert.equal(inherits.interruptible, true);
  assert.deepEqual(inherits.resources, { memory: "1Gi" });
  assert.equal((toJson(TaskTemplateSchema, inherits.toTaskTemplate()) as { metadata: JsonObject }).metadata["interruptible"], true);
  assert.equal(env.task({ name: "b", interruptible: false }, () => ({})).interruptible, false);
  assert.equal(new TaskEnvironment({ name: "on_demand" }).task({ name: "c" }, () => ({})).interruptible, false);
});

test("a registered plugin config selects the plugin's task class, its type, version and custom config", () => {
  const plugins = new TaskPluginRegistry();
  plugins.register(Sparkle, SparkleTask);
  const env = new TaskEnvironment({ name: "sparkly", pluginConfig: new Sparkle(4), plugins });
  const task = env.task({ name: "crunch" }, () => ({}));
  assert.ok(task instanceof SparkleTask);
  const template = task.toTaskTemplate();
  assert.equal(template.type, "sparkle");
  assert.equal(template.taskTypeVersion, 2);
  assert.deepEqual(template.custom, { executors: 4 });

  // override with another config keeps the class; undefined settings keep the task's (as Python's `x or self.x`)
  const bigger = task.override({ pluginConfig: new Sparkle(16) });
  assert.ok(bigger instanceof SparkleTask);
  assert.deepEqual(bigger.toTaskTemplate().custom, { executors: 16 });
  const same = bigger.override({ pluginConfig: undefined, retries: 3 });
  assert.ok(same instanceof SparkleTask);
  assert.deepEqual(same.toTaskTemplate().custom, { executors: 16 });
  assert.equal(same.retries, 3);
  assert.equal(same.name, "sparkly.crunch");
  // and a plain task given a config becomes the plugin's class
  const plainEnv = new TaskEnvironment({ name: "plain", plugins });
  const upgraded = plainEnv.task({ name: "t" }, () => ({})).override({ pluginConfig: new Sparkle(1) });
  assert.ok(upgraded instanceof SparkleTask);
  assert.equal(upgraded.name, "plain.t");
  // a config subclass finds its base class's plugin
  class TinySparkle extends Sparkle {}
  assert.equal(plugins.find(new TinySparkle(1)), SparkleTask);
});

test("TaskPluginRegistry.default is what environments use unless told otherwise", () => {
  class DefaultOnly {}
  class DefaultOnlyTask extends FunctionTask<TypeSpecs, TypeSpecs> {
    override get taskType() {
      return "default-only";
    }
  }
  TaskPluginRegistry.default.register(DefaultOnly, DefaultOnlyTask);
  const task = new TaskEnvironment({ name: "d", pluginConfig: new DefaultOnly() }).task({ name: "t" }, () => ({}));
  assert.equal(task.taskType, "default-only");
});

test("an unregistered plugin config fails with an error naming its class", () => {
  class Unknown {}
  assert.throws(() => new TaskEnvironment({ name: "x", pluginConfig: new Unknown(), plugins: new TaskPluginRegistry() }), {
    name: "TypeError",
    message: /No task plugin is registered for plugin config type Unknown/,
  });
  const env = new TaskEnvironment({ name: "x", plugins: new TaskPluginRegistry() });
  assert.throws(() => env.task({ name: "t", pluginConfig: new Unknown() }, () => ({})), /plugin config type Unknown/);
  assert.throws(() => env.task({ name: "u" }, () => ({})).override({ pluginConfig: new Unknown() }), /plugin config type Unknown/);
  assert.throws(() => env.task({ name: "v", pluginConfig: { workers: 2 } }, () => ({})), /not a plain object/);
});

/**
 * The TaskTemplate flyte-sdk builds for seed 000's `train_model` in `TaskEnvironment(name="hello_world",
 * resources=Resources(memory="250Mi"))` with the extra settings below, following get_proto_task,
 * _get_urun_container, get_proto_resources, get_proto_extended_resources and get_security_context of
 * flyte-sdk src/flyte/_internal/runtime/task_serde.py and resources_serde.py (commit 7e2d4231, Aug 2026),
 * as protobuf JSON. Differences, by design: runtime flavor "typescript"; container args name the TypeScript
 * entrypoint; discoveryVersion is a hash of the TypeScript function (checked separately).
 */
const expectedTemplate = {
  id: { resourceType: "TASK", project: "flytesnacks", domain: "development", name: "hello_world.train_model", version: "v1" },
  type: "python",
  metadata: {
    runtime: { type: "FLYTE_SDK", flavor: "typescript" },
    retries: { retries: 2 },
    timeout: "600s",
    interruptible: false,
    generatesDeck: false,
  },
  interface: {
    inputs: { variables: [{ key: "epochs", value: { type: { simple: "INTEGER" } } }] },
    outputs: { variables: [{ key: "o0", value: { type: { blob: {} } } }] },
  },
  container: {
    image: "ghcr.io/acme/train:1.0",
    args: [
      "flyte-connector", "execute",
      "--inputs", "{{.input}}", "--outputs-path", "{{.outputPrefix}}", "--version", "v1",
      "--raw-data-path", "{{.rawOutputDataPrefix}}", "--checkpoint-path", "{{.checkpointOutputPrefix}}",
      "--prev-checkpoint", "{{.prevCheckpointPrefix}}", "--run-name", "{{.runName}}", "--name", "{{.actionName}}",
      "--run-start-time", "{{.runStartTime}}", "--task", "hello_world.train_model",
    ],
    resources: {
      requests: [
        { name: "CPU", value: "1" },
        { name: "MEMORY", value: "250Mi" },
        { name: "GPU", value: "2" },
        { name: "EPHEMERAL_STORAGE", value: "10Gi" },
      ],
      limits: [{ name: "CPU", value: "2" }],
    },
    env: [{ key: "LOG_LEVEL", value: "debug" }],
  },
  securityContext: {
    secrets: [
      { key: "openai-key", mountRequirement: "ENV_VAR", envVar: "OPENAI_KEY" },
      { group: "wandb", key: "api-key", mountRequirement: "ENV_VAR", envVar: "WANDB_API_KEY" },
      { key: "gcp-creds", mountRequirement: "FILE" },
    ],
  },
  extendedResources: {
    // proto3 JSON leaves out default values: deviceClass NVIDIA_GPU (0) and sizeLimit "" ("auto")
    gpuAccelerator: { device: "nvidia-tesla-a100" },
    sharedMemory: { mountPath: "/dev/shm", mountName: "flyte-shm" },
  },
};

test("toTaskTemplate matches the template flyte-sdk serializes for the same declaration", () => {
  const env = new TaskEnvironment({ name: "hello_world", resources: { memory: "250Mi" }, image: { uri: "ghcr.io/acme/train:1.0" } });
  const train = env.task(
    {
      name: "train_model",
      inputs: { epochs: types.int },
      outputs: { o0: types.file },
      resources: { cpu: [1, 2], memory: "250Mi", gpu: "A100:2", disk: "10Gi", shm: "auto" },
      env: { LOG_LEVEL: "debug" },
      secrets: ["openai-key", { key: "api-key", group: "wandb" }, { key: "gcp-creds", mount: "/etc/flyte/secrets" }],
      retries: 2,
      timeout: 600,
    },
    async () => ({ o0: new FlyteFile("s3://x") }),
  );
  const json = toJson(TaskTemplateSchema, train.toTaskTemplate({ project: "flytesnacks", version: "v1" })) as JsonObject;
  const metadata = json["metadata"] as JsonObject;
  const runtime = metadata["runtime"] as JsonObject;
  assert.match(String(runtime["version"]), /^\d+\.\d+\.\d+/);
  delete runtime["version"];
  assert.match(String(metadata["discoveryVersion"]), /^[0-9a-f]{64}$/);
  delete metadata["discoveryVersion"];
  assert.deepEqual(json, expectedTemplate);
});

test("toTaskSpec wraps the template with the short name and the environment, as translate_task_to_wire", () => {
  const task = new TaskEnvironment({ name: "hello_world" }).task({ name: "data_prep", shortName: "Prepare data" }, () => ({}));
  const spec = task.toTaskSpec({ version: "v2" });
  assert.equal(spec.taskTemplate?.id?.name, "hello_world.data_prep");
  assert.equal(spec.taskTemplate?.id?.version, "v2");
  assert.equal(spec.shortName, "Prepare data");
  assert.equal(spec.environment?.name, "hello_world");
});

test("the code version changes with the function and the image, and the template is stable otherwise", () => {
  const make = (image: string, body: () => object) => new TaskEnvironment({ name: "v", image }).task({ name: "t" }, body).toTaskTemplate();
  const a = make("img:1", () => ({}));
  const again = make("img:1", () => ({}));
  const otherImage = make("img:2", () => ({}));
  const otherCode = make("img:1", () => ({ changed: true }));
  assert.equal(a.metadata?.discoveryVersion, again.metadata?.discoveryVersion);
  assert.notEqual(a.metadata?.discoveryVersion, otherImage.metadata?.discoveryVersion);
  assert.notEqual(a.metadata?.discoveryVersion, otherCode.metadata?.discoveryVersion);
  // no secrets, resources or custom → those fields stay unset, as Python leaves them
  assert.equal(a.securityContext, undefined);
  assert.equal(a.extendedResources, undefined);
  assert.equal(a.custom, undefined);
  assert.equal(a.target.case === "container" ? a.target.value.resources : "no container", undefined);
});

test("accelerator strings get flyte-sdk's device class: V100 is a GPU, V5P a TPU, Trn1 Neuron, MI300X AMD", () => {
  // resources_serde._get_gpu_extended_resource_entry with Resources.get_device's GPUType/TPUType/… lists
  const accelerator = (gpu: string) => {
    const template = new TaskEnvironment({ name: "acc" }).task({ name: "t", resources: { gpu } }, () => ({})).toTaskTemplate();
    return toJson(TaskTemplateSchema, template) as { extendedResources: { gpuAccelerator: JsonObject }; container: { resources: JsonObject } };
  };
  assert.deepEqual(accelerator("V100:2").extendedResources.gpuAccelerator, { device: "nvidia-tesla-v100" }); // NVIDIA_GPU (0) left out
  assert.deepEqual(accelerator("V100:2").container.resources, { requests: [{ name: "GPU", value: "2" }] });
  assert.deepEqual(accelerator("V5P:1").extendedResources.gpuAccelerator, { device: "tpu-v5p-slice", deviceClass: "GOOGLE_TPU" });
  assert.deepEqual(accelerator("Trn1:4").extendedResources.gpuAccelerator, { device: "Trn1", deviceClass: "AMAZON_NEURON" });
  assert.deepEqual(accelerator("MI300X:1").extendedResources.gpuAccelerator, { device: "MI300X", deviceClass: "AMD_GPU" });
  assert.deepEqual(accelerator("H200:8").extendedResources.gpuAccelerator, { device: "H200" });
});

test("bad resources and secrets are rejected with the problem named", () => {
  const env = new TaskEnvironment({ name: "r" });
  assert.throws(() => env.task({ name: "a", resources: { gpu: "A100" } }, () => ({})).toTaskTemplate(), /"T4:1"/);
  assert.throws(() => env.task({ name: "a0", resources: { gpu: "T4:0" } }, () => ({})).toTaskTemplate(), /count must be at least 1/);
  assert.throws(() => env.task({ name: "a1", resources: { gpu: { device: "A100", quantity: 0 } } }, () => ({})).toTaskTemplate(), /quantity >= 1/);
  assert.throws(() => env.task({ name: "b", resources: { cpu: -1 } }, () => ({})).toTaskTemplate(), /cpu must be >= 0/);
  assert.throws(() => env.task({ name: "c", secrets: { key: "k", asEnvVar: "lower" } }, () => ({})).toTaskTemplate(), /invalid environment variable name "lower"/);
  assert.throws(() => env.task({ name: "d", retries: -1 }, () => ({})), /retries must be/);
});

test("a ConnectorTask is not a FunctionTask (the two kinds are told apart at run time)", () => {
  const connectorTask = new ConnectorTask({ name: "c", taskType: "echo" });
  assert.equal(connectorTask instanceof FunctionTask, false);
});

test("static types follow the declaration (checked by tsc: the @ts-expect-error lines must be errors)", async () => {
  const env = new TaskEnvironment({ name: "statics" });
  // @ts-expect-error: the function must return the declared outputs
  env.task({ name: "wrong", outputs: { n: types.int } }, () => ({ n: "x" }));
  const right = env.task({ name: "right", inputs: { s: types.string }, outputs: { n: types.int } }, ({ s }) => ({ n: s.length }));
  const n: number | bigint = (await right.fn({ s: "abc" })).n;
  assert.equal(n, 3);
  // @ts-expect-error: inputs are checked where the task is called
  await right.fn({ s: 1 });
  // @ts-expect-error: the image is the environment's (as in flyte-sdk); override cannot change it
  right.override({ image: "other:1" });
});
