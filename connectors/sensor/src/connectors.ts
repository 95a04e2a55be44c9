import type { Connector } from "flyte-connectors";

// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
const connectors: Connector[] = [];
export default connectors;
