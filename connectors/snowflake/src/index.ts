// Public API of @flyte-connectors/snowflake.
export { SnowflakeConnector, SnowflakeJobMetadata, SNOWFLAKE_TASK_TYPE, type SnowflakeConnectorOptions } from "./connector.js";
export { SnowflakeTask, type SnowflakeConfig, type SnowflakeTaskOptions, type SnowflakeResults } from "./task.js";
