import { DatabricksConnector } from "./connector.js";

// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
// Only "databricks", the type flyte-sdk gives Databricks tasks: "spark" belongs to the Spark-on-Kubernetes plugin
// (see DatabricksConnectorOptions.taskTypeName to host flytekit 1.x's legacy "spark" Databricks tasks).
const connectors = [new DatabricksConnector()];
export default connectors;
