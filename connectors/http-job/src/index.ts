// Public API of @flyte-connectors/http-job.
export { HttpJobConnector, HttpJobMeta, HTTP_JOB_TASK_TYPE, HTTP_JOB_ALLOWED_ORIGINS_ENV, type HttpJobConnectorOptions } from "./connector.js";
export { HttpJobTask, type HttpJobTaskOptions } from "./task.js";
export { DEFAULT_PHASES, type HttpJobConfig, type HttpRequestConfig, type PhaseName, type OutputKind } from "./config.js";
