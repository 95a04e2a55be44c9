export { runTask, type RunOptions, type Backoff } from "./run-task.js";
export { TaskFailedError } from "./errors.js";
export type { ProgressOutput } from "./progress.js";
