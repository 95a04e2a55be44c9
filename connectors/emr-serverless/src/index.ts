// Public API of @flyte-connectors/emr-serverless.
export { EmrServerlessConnector, EmrServerlessJobMetadata, EMR_ENTRYPOINT_ENV, consoleUrl, type EmrServerlessConnectorOptions } from "./connector.js";
export { EmrServerlessTask, type EmrServerlessTaskOptions } from "./task.js";
export type { SparkJobDriver, HiveJobDriver } from "./config.js";
