// Public API of @flyte-connectors/snowflake.
export { SnowflakeConnector, SnowflakeJobMetadata, SNOWFLAKE_TASK_TYPE, SNOWFLAKE_ALLOWED_ORIGINS_ENV, type SnowflakeConnectorOptions } from "./connector.js";
export { SnowflakeTask, type SnowflakeConfig, type SnowflakeTaskOptions, type SnowflakeResults } from "./task.js";
