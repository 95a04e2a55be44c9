import assert from "node:assert/strict";
import { test } from "node:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { ResourceType } from "@flyte-connectors/flyteidl2/flyteidl2/core/identifier_pb.js";
import { RuntimeMetadata_RuntimeType } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { types, variableMap, type FlyteFile } from "../types/index.js";
import { ConnectorTask, type TaskInputs, type TaskOutputs } from "./index.js";

const trainInputs = { epochs: types.int, dataset_uri: types.string };
const trainOutputs = { results: types.file };

test("toTaskTemplate builds the template the backend would send", () => {
  const task = new ConnectorTask({
    name: "model_train",
    taskType: "external_model_training",
    inputs: trainInputs,
    outputs: trainOutputs,
    custom: { endpoint: "https://train.example.com" },
    secrets: { api_key: "TRAIN_API_KEY" },
    configs: { region: "eu" },
    project: "ml",
    domain: "production",
    version: "v1",
  });
  const template = task.toTaskTemplate();
  assert.equal(template.id?.resourceType, ResourceType.TASK);
  assert.deepEqual(
    { project: template.id?.project, domain: template.id?.domain, name: template.id?.name, version: template.id?.version },
    { project: "ml", domain: "production", name: "model_train", version: "v1" },
  );
  assert.equal(template.type, "external_model_training");
  assert.equal(template.taskTypeVersion, 0);
  assert.deepEqual(template.interface?.inputs, variableMap(trainInputs));
  assert.deepEqual(
    template.interface?.inputs?.variables.map((v) => v.key),
    ["dataset_uri", "epochs"],
  );
  assert.deepEqual(template.interface?.outputs, variableMap(trainOutputs));
  assert.deepEqual(template.custom, {
    endpoint: "https://train.example.com",
    secrets: { api_key: "TRAIN_API_KEY" },
    configs: { region: "eu" },
  });
  assert.equal(template.metadata?.runtime?.type, RuntimeMetadata_RuntimeType.FLYTE_SDK);
  assert.equal(template.metadata?.runtime?.flavor, "typescript");
  assert.match(template.metadata?.runtime?.version ?? "", /^\d+\.\d+\.\d+/);
});

test("defaults: version 0, local id, no custom, empty interface", () => {
  const template = new ConnectorTask({ name: "ping", taskType: "ping" }).toTaskTemplate();
  assert.equal(template.taskTypeVersion, 0);
  assert.deepEqual([template.id?.project, template.id?.domain, template.id?.version], ["local", "development", "local"]);
  assert.equal(template.custom, undefined);
  assert.deepEqual(template.interface?.inputs?.variables, []);
  assert.deepEqual(template.interface?.outputs?.variables, []);
});

test("rejects a missing task type and a bad version", () => {
  assert.throws(() => new ConnectorTask({ name: "x", taskType: "" }), /needs a taskType/);
  assert.throws(() => new ConnectorTask({ name: "x", taskType: "t", taskTypeVersion: -1 }), /invalid taskTypeVersion/);
});

test("a subclass computes its custom config after super(), as Python's custom_config", () => {
  class ModelTrainTask extends ConnectorTask<typeof trainInputs, typeof trainOutputs> {
    readonly endpoint: string;
    constructor(name: string, endpoint: string) {
      super({ name, taskType: "external_model_training", taskTypeVersion: 2, inputs: trainInputs, outputs: trainOutputs });
      this.endpoint = endpoint;
    }
    protected override customConfig(): JsonObject {
      return { endpoint: this.endpoint };
    }
  }
  const task = new ModelTrainTask("model_train", "https://train.example.com");
  const template = task.toTaskTemplate();
  assert.deepEqual(template.custom, { endpoint: "https://train.example.com" });
  assert.equal(template.taskTypeVersion, 2);

  // Static types flow from the declared specs (checked by tsc).
  const inputs: TaskInputs<ModelTrainTask> = { epochs: 3, dataset_uri: "gs://bucket/data.csv" };
  // @ts-expect-error epochs must be an int (number | bigint)
  const bad: TaskInputs<ModelTrainTask> = { epochs: "3", dataset_uri: "x" };
  const results: TaskOutputs<ModelTrainTask>["results"] | undefined = undefined as FlyteFile | undefined;
  void [inputs, bad, results];
});
