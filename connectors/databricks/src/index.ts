// Public API of @flyte-connectors/databricks.
export {
  DatabricksConnector,
  DatabricksJobMetadata,
  DATABRICKS_TOKEN_SECRET,
  DATABRICKS_CONNECTOR_SECRET,
  DATABRICKS_INSTANCE_ENV,
  DATABRICKS_ALLOWED_ORIGINS_ENV,
  type DatabricksConnectorOptions,
} from "./connector.js";
export { DatabricksTask, type DatabricksTaskOptions } from "./task.js";
