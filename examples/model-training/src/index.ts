import { ModelTrainingConnector } from "./connector.js";

export { ModelTrainJobMeta, ModelTrainingConnector } from "./connector.js";
export { ModelTrainTask, type ModelTrainTaskOptions } from "./task.js";

/** What the connector service loads from this module. */
export default [new ModelTrainingConnector()];
