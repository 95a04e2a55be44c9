// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
import { BigQueryConnector } from "./connector.js";

// The operator may point the served connector at another API root (a private endpoint, an emulator).
const apiEndpoint = process.env["BIGQUERY_API_ENDPOINT"] || undefined;

const connectors = [new BigQueryConnector(apiEndpoint ? { apiEndpoint } : {})];
export default connectors;
