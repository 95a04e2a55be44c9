import { FileSensorConnector } from "./connector.js";

// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
const connectors = [new FileSensorConnector()];
export default connectors;
