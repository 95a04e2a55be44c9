// Task templates of plugin tasks: type and version as flyte-sdk's plugin task classes declare them
// (flyteorg/flyte-sdk commit 7e2d4231b559, v2.6.5+1: DaskTask task_type "dask", RayFunctionTask "ray",
// PysparkFunctionTask "spark", TorchFunctionTask "pytorch" / task_type_version 1 / "python-task" when nnodes == 1;
// the others keep AsyncFunctionTaskTemplate's task_type_version 0), custom = the config's message JSON.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { FunctionTask, TaskEnvironment, TaskPluginRegistry, runLocal, types } from "flyte-connectors";
import { Dask, DaskTask } from "./dask/index.js";
import { Elastic, PyTorchTask } from "./pytorch/index.js";
import { RayJobConfig, RayTask } from "./ray/index.js";
import { Spark, SparkTask } from "./spark/index.js";

function template(pluginConfig: object, envName: string) {
  const env = new TaskEnvironment({ name: envName, image: "ghcr.io/acme/app:1", pluginConfig });
  const task = env.task({ name: "double", inputs: { x: types.int }, outputs: { y: types.int } }, async ({ x }) => ({ y: Number(x) * 2 }));
  return { task, json: toJson(TaskTemplateSchema, task.toTaskTemplate()) as { type: string; taskTypeVersion?: number; custom?: unknown } };
}

describe("plugin tasks", () => {
  it("Dask: an environment with a Dask config declares DaskTasks of type dask", () => {
    const dask = new Dask({ workers: { numberOfWorkers: 4 } });
    const { task, json } = template(dask, "dask_env");
    assert.ok(task instanceof DaskTask);
    assert.equal(json.type, "dask");
    assert.equal(json.taskTypeVersion, undefined); // 0, left out of the JSON form
    assert.deepEqual(json.custom, { scheduler: {}, workers: { numberOfWorkers: 4 } });
  });

  it("Ray: type ray, custom = RayJob", () => {
    const ray = new RayJobConfig({ workers: [{ groupName: "g", replicas: 2 }], shutdownAfterJobFinishes: true });
    const { task, json } = template(ray, "ray_env");
    assert.ok(task instanceof RayTask);
    assert.equal(json.type, "ray");
    assert.deepEqual(json.custom, ray.toCustom());
    assert.deepEqual(json.custom, { rayCluster: { workerGroupSpec: [{ groupName: "g", replicas: 2 }] }, shutdownAfterJobFinishes: true });
  });

  it("Spark: type spark, custom = SparkJob", () => {
    const spark = new Spark({ sparkConf: { "spark.executor.instances": "2" } });
    const { task, json } = template(spark, "spark_env");
    assert.ok(task instanceof SparkTask);
    assert.equal(json.type, "spark");
    assert.deepEqual(json.custom, {
      mainApplicationFile: "local:///opt/venv/bin/runtime.py",
      sparkConf: { "spark.executor.instances": "2" },
      executorPath: "/opt/venv/bin/python",
    });
  });

  it("PyTorch: type pytorch version 1; python-task for a single node", () => {
    const { task, json } = template(new Elastic({ nnodes: "2:4", nprocPerNode: 8 }), "torch_env");
    assert.ok(task instanceof PyTorchTask);
    assert.equal(json.type, "pytorch");
    assert.equal(json.taskTypeVersion, 1);
    assert.deepEqual(json.custom, {
      workerReplicas: { replicas: 4 },
      elasticConfig: { rdzvBackend: "c10d", minReplicas: 2, maxReplicas: 4, nprocPerNode: 8, maxRestarts: 3 },
    });
    const single = template(new Elastic({ nnodes: 1, nprocPerNode: 2 }), "torch_single").json;
    assert.equal(single.type, "python-task");
    assert.equal(single.taskTypeVersion, 1);
  });

  it("registers each config class in the default registry on import", () => {
    assert.equal(TaskPluginRegistry.default.find(new Dask()), DaskTask);
    assert.equal(TaskPluginRegistry.default.find(new Spark()), SparkTask);
    assert.equal(TaskPluginRegistry.default.find(new RayJobConfig({ workers: [] })), RayTask);
    assert.equal(TaskPluginRegistry.default.find(new Elastic({ nnodes: 2, nprocPerNode: 1 })), PyTorchTask);
  });

  it("override({ pluginConfig }) switches between plugin and plain tasks", () => {
    const { task } = template(new Dask(), "switch_env");
    const asSpark = task.override({ pluginConfig: new Spark() });
    assert.ok(asSpark instanceof SparkTask);
    assert.equal(asSpark.toTaskTemplate().type, "spark");
    const plain = task.override({ pluginConfig: null });
    assert.equal(plain.constructor, FunctionTask);
    assert.equal(plain.toTaskTemplate().type, "python");
  });

  it("a plugin task class refuses another config class, naming both", () => {
    assert.throws(() => new DaskTask({ name: "t", fn: async () => ({}), pluginConfig: new Spark() }), /Task "t" needs a pluginConfig of class Dask, got Spark/);
  });

  it("runs locally like any function task", async () => {
    const { task } = template(new Dask(), "local_env");
    assert.deepEqual(await runLocal(task, { x: 21 }, { quiet: true }), { y: 42 });
  });
});
