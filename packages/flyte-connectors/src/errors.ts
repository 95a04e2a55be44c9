/**
 * Errors of flyte-connectors. Every error keeps three things apart:
 * - `code`: a gRPC status name, so any transport maps it without guessing;
 * - `message`: text safe to show the caller (no secret values, no stack);
 * - `cause`: the underlying error, for logs only.
 */

/** The gRPC status names this project produces. */
export type StatusName =
  | "CANCELLED"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "UNAUTHENTICATED";

export class ConnectorError extends Error {
  readonly code: StatusName;

  constructor(code: StatusName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }

  /**
   * The error for a call whose signal fired: DEADLINE_EXCEEDED when the abort reason is named "TimeoutError"
   * (as `AbortSignal.timeout` makes it), CANCELLED otherwise. Transports abort with those reasons.
   */
  static fromAbort(signal: AbortSignal, during?: string): ConnectorError {
    const timedOut = (signal.reason as { name?: unknown } | undefined)?.name === "TimeoutError";
    const where = during ? ` during ${during}` : "";
    return timedOut
      ? new ConnectorError("DEADLINE_EXCEEDED", `Deadline exceeded${where}.`, { cause: signal.reason })
      : new ConnectorError("CANCELLED", `Call cancelled${where}.`, { cause: signal.reason });
  }
}

/** No connector is registered for a (task type, version). */
export class ConnectorNotFoundError extends ConnectorError {
  readonly taskType: string;
  readonly taskTypeVersion: number;

  /** @param served the (task type, version) pairs the service does serve, named in the message. */
  constructor(taskType: string, taskTypeVersion: number, served: readonly { name: string; version: number }[] = []) {
    // Starts with the Python service's text, so operators grep for one message; then what would have matched.
    const list = served.length ? served.map((c) => `${c.name} v${c.version}`).join(", ") : "none";
    super("NOT_FOUND", `Cannot find connector for task type: ${taskType}. Asked for version ${taskTypeVersion}; this service serves: ${list}.`);
    this.taskType = taskType;
    this.taskTypeVersion = taskTypeVersion;
  }
}

/** A connector with the same (task type, version) is already registered. */
export class DuplicateConnectorError extends ConnectorError {
  constructor(taskType: string, taskTypeVersion: number, existing: string) {
    super(
      "ALREADY_EXISTS",
      `A connector for task type "${taskType}" version ${taskTypeVersion} is already registered ("${existing}"); pass { override: true } to replace it.`,
    );
  }
}

/** `resource_meta` bytes that are not valid JSON or not of the connector's metadata shape. */
export class ResourceMetaDecodeError extends ConnectorError {
  constructor(metaType: string, problem: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", `Cannot decode resource meta as ${metaType}: ${problem}`, options);
  }
}

/** A literal that cannot be converted to or from a JavaScript value. */
export class TypeConversionError extends ConnectorError {
  /** Input or output name the problem belongs to, when known. */
  readonly variable: string | undefined;

  constructor(message: string, options?: { variable?: string; cause?: unknown }) {
    super("INVALID_ARGUMENT", options?.variable ? `${options.variable}: ${message}` : message, options);
    this.variable = options?.variable;
  }
}

/** A secret named by the task could not be found. */
export class SecretNotFoundError extends ConnectorError {
  constructor(message: string) {
    super("FAILED_PRECONDITION", message);
  }
}

/** An optional connector method (getMetrics, getLogs) the connector does not implement. */
export class NotImplementedError extends ConnectorError {
  constructor(message: string) {
    super("UNIMPLEMENTED", message);
  }
}
