/**
 * Seed 000's workflow in TypeScript: `train_model` prepares a dataset with `data_prep`, then trains on it with
 * the model-training connector task. Run it locally:
 *
 *   MODEL_TRAIN_ENDPOINT=http://localhost:8080/train \
 *     npx flyte-connector run src/workflow.ts train_model --modules ./src/index.ts --epochs 3
 */
import { callTask, TaskEnvironment, types } from "flyte-connectors";
import { ModelTrainTask } from "./task.js";

export const env = new TaskEnvironment({ name: "hello_world", resources: { memory: "250Mi" } });

/** The connector task; the endpoint of the training service comes from MODEL_TRAIN_ENDPOINT. */
export const modelTrainTask = new ModelTrainTask({
  name: "model_train",
  endpoint: process.env["MODEL_TRAIN_ENDPOINT"] ?? "https://mltrain.example.com/train",
});

// Outputs are named o0, as Python names a function's single return value, so the interfaces match flyte-sdk's.
export const dataPrep = env.task({ name: "data_prep", outputs: { o0: types.string } }, async () => ({ o0: "gs://my-bucket/dataset.csv" }));

export const trainModel = env.task(
  { name: "train_model", inputs: { epochs: types.int }, outputs: { o0: types.file } },
  async ({ epochs }) => {
    const { o0: datasetUri } = await callTask(dataPrep, {});
    const { results } = await callTask(modelTrainTask, { epochs, dataset_uri: datasetUri });
    return { o0: results };
  },
);
