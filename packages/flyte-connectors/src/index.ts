// Public API of flyte-connectors. Everything else in this package is internal.
export {
  AsyncConnector,
  SyncConnector,
  type Connector,
  type Resource,
  type TaskLogInit,
  type CallContext,
  type CreateRequest,
  type ResourceRequest,
  type MetricsRequest,
  type MetricsResult,
  type LogsRequest,
  type LogsPage,
} from "./connector.js";
export { attemptIdentity, attemptToken } from "./attempt.js";
export { pythonJsonDumps } from "./python-json.js";
export { pythonRepr, pythonStr, pythonFloatRepr, pythonStrRepr } from "./python-repr.js";
export { connectorSecret, connectorSecretPath } from "./connector-secret.js";
export { ResourceMeta, type ResourceMetaType, type DefinedResourceMeta, type FieldSpec, type FieldSpecs, type FieldValues } from "./resource-meta.js";
export { ConnectorRegistry, type RegisterOptions, type ConnectorMetadata, type TaskCategory } from "./registry.js";
export { Phase, isTerminalPhase, convertToFlytePhase, phaseName } from "./phase.js";
export { ConnectorDispatcher, type ConnectorCall, type DispatcherOptions, type Operation } from "./dispatcher.js";
export {
  ConnectorError,
  ConnectorNotFoundError,
  DuplicateConnectorError,
  ResourceMetaDecodeError,
  TypeConversionError,
  SecretNotFoundError,
  NotImplementedError,
  type StatusName,
} from "./errors.js";
export * from "./types/index.js";
export * from "./storage/index.js";
export { Redactor, secretForms, REDACTED } from "./redact.js";
export * from "./task/index.js";
export * from "./executor/index.js";
export * from "./environment/index.js";
export * from "./image/index.js";
