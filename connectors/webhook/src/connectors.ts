import { WebhookConnector } from "./connector.js";

// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
const connectors = [new WebhookConnector()];
export default connectors;
