// Public API of @flyte-connectors/service. Everything else in this package is internal.
export { startConnectorService, type ConnectorServiceOptions, type ConnectorServiceHandle, type ServedConnector } from "./service.js";
export { DISCOVERY_FIELD, ModuleLoadError, type LoadFailure } from "./loader.js";
export { ListenError, listenOn, LISTEN_FLAGS, type ListenOption } from "./listen-error.js";
