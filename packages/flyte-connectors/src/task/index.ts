export {
  ConnectorTask,
  type ConnectorTaskOptions,
  type TypeSpecs,
  type TaskInputs,
  type TaskOutputs,
} from "./connector-task.js";
