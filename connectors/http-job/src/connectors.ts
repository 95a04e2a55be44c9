// Default export: the connectors the service discovers in this package (package.json "flyteConnectors").
const connectors: never[] = [];
export default connectors;
