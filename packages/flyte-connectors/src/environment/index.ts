export { TaskEnvironment, type TaskEnvironmentOptions, type TaskDeclaration } from "./environment.js";
export {
  FunctionTask,
  type FunctionTaskClass,
  type FunctionTaskOptions,
  type TaskFunction,
  type TaskSettings,
  type ImageRef,
  type SerializationContext,
  TaskPluginRegistry,
  type PluginConfigClass,
} from "./function-task.js";
export type { TaskLink, LinkContext } from "./links.js";
export type { Resources, Device, DeviceClass, CpuQuantity } from "./resources.js";
export type { Secret, SecretRequest } from "./secrets.js";
export { runLocal, callTask, isInRun, ActionFailedError, type RunLocalOptions, type RunnableTask } from "./run.js";
