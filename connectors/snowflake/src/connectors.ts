// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
import { SnowflakeConnector } from "./connector.js";

const connectors = [new SnowflakeConnector()];
export default connectors;
