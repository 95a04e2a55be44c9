// Public API of @flyte-connectors/service. Everything else in this package is internal.
export { startConnectorService, type ConnectorServiceOptions, type ConnectorServiceHandle, type ServedConnector } from "./service.js";
export { DISCOVERY_FIELD } from "./loader.js";
