// Public API of @flyte-connectors/bigquery.
export { BigQueryConnector, BigQueryMetadata, type BigQueryConnectorOptions } from "./connector.js";
export { BigQueryTask, type BigQueryConfig, type BigQueryOutputs, type BigQueryTaskOptions, type QueryJobConfig } from "./task.js";
export { CREDENTIALS_SECRET } from "./clients.js";
