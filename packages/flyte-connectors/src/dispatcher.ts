import { create, fromBinary, toBinary, toJson, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  CreateTaskResponseSchema,
  DeleteTaskResponseSchema,
  GetConnectorResponseSchema,
  GetTaskLogsResponseSchema,
  GetTaskMetricsResponseSchema,
  GetTaskResponseSchema,
  ListConnectorsResponseSchema,
  ResourceSchema,
  type CreateTaskRequest,
  type CreateTaskResponse,
  type DeleteTaskRequest,
  type DeleteTaskResponse,
  type GetConnectorRequest,
  type GetConnectorResponse,
  type GetTaskLogsRequest,
  type GetTaskLogsResponse,
  type GetTaskMetricsRequest,
  type GetTaskMetricsResponse,
  type GetTaskRequest,
  type GetTaskResponse,
  type ListConnectorsResponse,
  type Resource as ResourceProto,
  type TaskCategory as TaskCategoryProto,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { TaskLogSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";
import type { Connection } from "@flyte-connectors/flyteidl2/flyteidl2/core/security_pb.js";
import { LogLineSchema } from "@flyte-connectors/flyteidl2/flyteidl2/logs/dataplane/payload_pb.js";
import { OutputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import type { AsyncConnector, CallContext, Connector, LogsPage, Resource } from "./connector.js";
import { ConnectorError, NotImplementedError, ResourceMetaDecodeError, TypeConversionError } from "./errors.js";
import { Phase } from "./phase.js";
import type { ConnectorRegistry } from "./registry.js";
import { Redactor } from "./redact.js";
import { ResourceMeta, type ResourceMetaType } from "./resource-meta.js";
import { defaultStorage } from "./storage/object-store.js";
import type { Storage } from "./storage/types.js";
import { decodeInputs, decodeTaskInputs, encodeOutputs, RemoteOnlyStorage, type LiteralStorage } from "./types/index.js";
import { isStorage } from "./types/storage.js";

export interface DispatcherOptions {
  /**
   * Where offloaded input literals, File/Dir contents and connector uploads (`request.storage`) go. Default:
   * `defaultStorage()`: s3://, gs://, abfs(s)://, file:// configured from flyte-sdk's environment variables
   * (local paths subject to `allowLocalFiles`).
   */
  storage?: LiteralStorage | Storage;
  /**
   * Whether offloaded literals at local paths or `file://` URIs are read (from this process's disk). A service
   * answering remote callers sets false: a caller must not make it read its own files. Default: true (the local
   * executor's case).
   */
  allowLocalFiles?: boolean;
  /** Longest error message (in characters) returned to a caller; longer ones are cut. Default: 4096. */
  maxErrorMessageLength?: number;
  /** Told about a DeleteTask that was answered OK without calling the connector (undecodable meta). */
  onIgnoredDelete?: (taskType: string, error: ResourceMetaDecodeError) => void;
  /**
   * Runs every piece of connector code (with the input decoding and output encoding around it) through this
   * function, e.g. to limit how many run at once. The call still ends when its signal fires; the promise this
   * returns settles when the connector's own work does, so a limiter can hold its slot until then. Default: runs
   * `work` directly.
   */
  runConnector?: <T>(call: ConnectorCall, work: () => Promise<T>) => Promise<T>;
}

/** One piece of connector code about to run (see {@link DispatcherOptions.runConnector}). */
export interface ConnectorCall {
  operation: Operation;
  connector: Connector;
  /** The call's signal: fires when its deadline passes or its caller cancels. */
  signal: AbortSignal;
}

/** Most distinct connection secret values remembered to redact log lines (logs requests carry no connection). */
const MAX_REMEMBERED_SECRETS = 256;

/** Largest resource meta a create may return (1 MiB): the backend stores it in the task's status object. */
export const MAX_RESOURCE_META_BYTES = 1024 * 1024;

/** The operation names used in errors, logs and metrics ("do": a sync connector run by {@link ConnectorDispatcher.executeTaskSync}). */
export type Operation = "create" | "get" | "delete" | "do" | "metrics" | "logs";

/**
 * Runs flyteidl2 connector requests against the connectors of a registry: decodes inputs and resource metas,
 * calls the connector, encodes its answer. Transport-free: the gRPC service and the local executor are thin
 * layers on it. Every failure is a {@link ConnectorError} whose code is a gRPC status name and whose message is
 * safe to return (connection secret values are replaced by `*****`).
 *
 * Signals: abort with a reason named "TimeoutError" (as `AbortSignal.timeout` does) for a passed deadline
 * (DEADLINE_EXCEEDED), with anything else for a cancelled call (CANCELLED). A call ends when its signal fires,
 * even if the connector ignores the signal.
 */
export class ConnectorDispatcher {
  readonly registry: ConnectorRegistry;
  readonly #options: DispatcherOptions;
  readonly #storage: LiteralStorage | Storage;
  readonly #recentSecrets = new Set<string>();

  constructor(registry: ConnectorRegistry, options: DispatcherOptions = {}) {
    this.registry = registry;
    this.#options = options;
    const storage = options.storage ?? defaultStorage();
    this.#storage = options.allowLocalFiles === false ? new RemoteOnlyStorage(storage) : storage;
  }

  async createTask(request: CreateTaskRequest, signal: AbortSignal): Promise<CreateTaskResponse> {
    const template = request.template;
    if (!template) throw new ConnectorError("INVALID_ARGUMENT", "CreateTaskRequest.template is required.");
    const connector = this.registry.get(template.type, template.taskTypeVersion);
    const context = callContext(request.connection, signal, this.#storage);
    // Input decoding runs inside #call too: an offloaded input read ends with the call's signal.
    const meta = await this.#call("create", connector, context, async () => {
      const createRequest = await this.#createRequest(request, template, context);
      return connector.kind === "sync"
        ? await this.#syncResult(connector.outputTypes, await connector.do(createRequest), this.#redactor(context))
        : await connector.create(createRequest);
    });
    const resourceMeta = meta.encode();
    if (resourceMeta.byteLength > MAX_RESOURCE_META_BYTES) {
      // The backend keeps the meta in the task's status object (etcd) and reads replies with a 4 MiB limit.
      throw new ConnectorError(
        "FAILED_PRECONDITION",
        `Connector "${connector.name}" produced a resource meta of ${resourceMeta.byteLength} bytes, over the ${MAX_RESOURCE_META_BYTES}-byte limit: ` +
          "the backend stores it with the task. Keep it to a job identity; sync and echo connectors carry their outputs in it, so keep those small.",
      );
    }
    return create(CreateTaskResponseSchema, { resourceMeta });
  }

  /**
   * Runs a sync connector's `do` and returns the finished resource with its outputs inline (Flyte 1's
   * ExecuteTaskSync). Unlike CreateTask, the result is not stored in a resource meta, so it has no meta size
   * limit. An async connector is FAILED_PRECONDITION, and nothing is started.
   */
  async executeTaskSync(request: CreateTaskRequest, signal: AbortSignal): Promise<ResourceProto> {
    const template = request.template;
    if (!template) throw new ConnectorError("INVALID_ARGUMENT", "The request's template is required.");
    const connector = this.registry.get(template.type, template.taskTypeVersion);
    if (connector.kind !== "sync") {
      throw new ConnectorError(
        "FAILED_PRECONDITION",
        `Connector "${connector.name}" for task type ${template.type} is asynchronous: call CreateTask (ListAgents reports it with is_sync false).`,
      );
    }
    const context = callContext(request.connection, signal, this.#storage);
    return this.#call("do", connector, context, async () =>
      this.#resourceProto(connector.outputTypes, await connector.do(await this.#createRequest(request, template, context)), signal, this.#redactor(context)),
    );
  }

  /** What `create` and `do` receive. */
  async #createRequest(request: CreateTaskRequest, template: NonNullable<CreateTaskRequest["template"]>, context: CallContext) {
    const options = this.#convertOptions(context.signal);
    return {
      ...context,
      taskTemplate: template,
      custom: template.custom ?? {},
      // Checked against the interface when there is one: a missing or extra input is the caller's error.
      inputs: template.interface?.inputs ? await decodeTaskInputs(request.inputs, template.interface.inputs, options) : await decodeInputs(request.inputs, undefined, options),
      outputPrefix: request.outputPrefix,
      taskExecutionMetadata: request.taskExecutionMetadata,
    };
  }

  async getTask(request: GetTaskRequest, signal: AbortSignal): Promise<GetTaskResponse> {
    const connector = this.#connectorFor(request.taskCategory);
    const context = callContext(request.connection, signal, this.#storage);
    if (connector.kind === "sync") {
      return create(GetTaskResponseSchema, { resource: SyncResultMeta.decode(request.resourceMeta).toProto() });
    }
    const resourceMeta = decodeMeta(connector.metadataType, request.resourceMeta);
    const resource = await this.#call("get", connector, context, async () =>
      this.#resourceProto(connector.outputTypes, await connector.get({ ...context, resourceMeta, outputPrefix: request.outputPrefix }), signal, this.#redactor(context)),
    );
    return create(GetTaskResponseSchema, { resource });
  }

  async deleteTask(request: DeleteTaskRequest, signal: AbortSignal): Promise<DeleteTaskResponse> {
    const connector = this.#connectorFor(request.taskCategory);
    if (connector.kind === "async") {
      const context = callContext(request.connection, signal, this.#storage);
      let resourceMeta: ResourceMeta | undefined;
      try {
        resourceMeta = decodeMeta(connector.metadataType, request.resourceMeta);
      } catch (error) {
        // The backend retries a failed delete forever and blocks the task's finalizer: a meta nobody can
        // read names no job we could cancel, so the answer is OK.
        if (!(error instanceof ResourceMetaDecodeError)) throw error;
        this.#options.onIgnoredDelete?.(connector.taskTypeName, error);
      }
      if (resourceMeta) {
        const meta = resourceMeta;
        await this.#call("delete", connector, context, () => connector.delete({ ...context, resourceMeta: meta, outputPrefix: "" }));
      }
    }
    return create(DeleteTaskResponseSchema, {});
  }

  async getTaskMetrics(request: GetTaskMetricsRequest, signal: AbortSignal): Promise<GetTaskMetricsResponse> {
    const connector = this.#asyncWith(request.taskCategory, "getMetrics");
    const context = callContext(undefined, signal, this.#storage);
    const resourceMeta = decodeMeta(connector.metadataType, request.resourceMeta);
    const result = await this.#call("metrics", connector, context, () =>
      connector.getMetrics!({
        ...context,
        resourceMeta,
        outputPrefix: "",
        queries: request.queries,
        startTime: request.startTime ? timestampDate(request.startTime) : undefined,
        endTime: request.endTime ? timestampDate(request.endTime) : undefined,
        stepMillis: request.step ? durationMs(request.step) : undefined,
      }),
    );
    return create(GetTaskMetricsResponseSchema, result);
  }

  async *getTaskLogs(request: GetTaskLogsRequest, signal: AbortSignal): AsyncGenerator<GetTaskLogsResponse> {
    const connector = this.#asyncWith(request.taskCategory, "getLogs");
    const context = callContext(undefined, signal, this.#storage);
    const resourceMeta = decodeMeta(connector.metadataType, request.resourceMeta);
    const logsRequest = { ...context, resourceMeta, outputPrefix: "", lines: Number(request.lines), token: request.token };
    const pages = await this.#call("logs", connector, context, async () => logPages(await connector.getLogs!(logsRequest)));
    const iterator = pages[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await this.#call("logs", connector, context, () => iterator.next());
        if (next.done) return;
        const page = next.value;
        if (page.token) yield create(GetTaskLogsResponseSchema, { part: { case: "header", value: { token: page.token } } });
        // A logs request carries no connection: redact with the secrets of this replica's recent calls.
        const redactor = this.#recentRedactor();
        const lines = page.lines.map((line) => {
          const proto = create(LogLineSchema, typeof line === "string" ? { message: line } : line);
          proto.message = redactor.redact(proto.message);
          return proto;
        });
        yield create(GetTaskLogsResponseSchema, {
          part: { case: "body", value: { lines, results: lines.map((line) => line.message) } },
        });
      }
    } finally {
      // After an abort the connector's pending next() may never settle: clean up without waiting for it.
      const closing = iterator.return?.();
      if (signal.aborted) void Promise.resolve(closing).catch(() => {});
      else await closing;
    }
  }

  listConnectors(): ListConnectorsResponse {
    return create(ListConnectorsResponseSchema, { connectors: this.registry.metadata() });
  }

  getConnector(request: GetConnectorRequest): GetConnectorResponse {
    const connector = this.registry.metadata().find((entry) => entry.name === request.name);
    if (!connector) throw new ConnectorError("NOT_FOUND", `Cannot find connector for name: ${request.name}.`);
    return create(GetConnectorResponseSchema, { connector });
  }

  #connectorFor(category: TaskCategoryProto | undefined): Connector {
    if (!category) throw new ConnectorError("INVALID_ARGUMENT", "task_category is required.");
    return this.registry.get(category.name, category.version);
  }

  #asyncWith(category: TaskCategoryProto | undefined, method: "getMetrics" | "getLogs"): AsyncConnector {
    const connector = this.#connectorFor(category);
    if (connector.kind !== "async" || typeof connector[method] !== "function") {
      throw new NotImplementedError(`Connector "${connector.name}" does not implement ${method}.`);
    }
    return connector;
  }

  #convertOptions(signal: AbortSignal) {
    return { signal, storage: this.#storage };
  }

  /** Redacts the connection secrets of `context` (and remembers them for log lines, see {@link #recentRedactor}). */
  #redactor(context: CallContext): Redactor {
    const secrets = Object.values(context.secrets).filter((value) => value.length > 0);
    for (const secret of secrets) {
      this.#recentSecrets.delete(secret);
      this.#recentSecrets.add(secret);
      if (this.#recentSecrets.size > MAX_REMEMBERED_SECRETS) this.#recentSecrets.delete(this.#recentSecrets.values().next().value!);
    }
    return Redactor.for(secrets);
  }

  #recentRedactor(): Redactor {
    return Redactor.for([...this.#recentSecrets]);
  }

  async #resourceProto(outputTypes: Connector["outputTypes"], resource: Resource, signal: AbortSignal, redactor: Redactor): Promise<ResourceProto> {
    if (resource.phase === Phase.UNDEFINED || Phase[resource.phase] === undefined) {
      throw new ConnectorError("INTERNAL", `Connector returned an invalid phase: ${String(resource.phase)}.`);
    }
    let outputs;
    try {
      outputs = resource.outputs ? await encodeOutputs(resource.outputs, outputTypes, this.#convertOptions(signal)) : undefined;
    } catch (error) {
      // The connector's own outputs are wrong: a connector bug (INTERNAL), not the caller's (INVALID_ARGUMENT).
      if (!(error instanceof TypeConversionError)) throw error;
      throw new ConnectorError("INTERNAL", `Connector returned outputs that cannot be encoded: ${error.message}`, { cause: error });
    }
    return create(ResourceSchema, {
      phase: resource.phase,
      message: redactor.redact(resource.message ?? ""),
      logLinks: (resource.logLinks ?? []).map((link) => ({ ...link, name: redactor.redact(link.name ?? ""), uri: redactor.redact(link.uri ?? "") })),
      ...(outputs ? { outputs } : {}),
      ...(resource.customInfo ? { customInfo: resource.customInfo } : {}),
    });
  }

  async #syncResult(outputTypes: Connector["outputTypes"], resource: Resource, redactor: Redactor): Promise<SyncResultMeta> {
    const proto = await this.#resourceProto(outputTypes, resource, new AbortController().signal, redactor);
    return SyncResultMeta.fromProto(proto);
  }

  /** Runs connector code: ends with the signal, and turns what it throws into a caller-safe ConnectorError. */
  async #call<T>(operation: Operation, connector: Connector, context: CallContext, work: () => Promise<T>): Promise<T> {
    const { signal } = context;
    try {
      throwIfAborted(signal, operation);
      const run = this.#options.runConnector;
      return await raceAbort(run ? run({ operation, connector, signal }, work) : work(), signal, operation);
    } catch (error) {
      throw this.#callerError(operation, connector, context, error);
    }
  }

  #callerError(operation: Operation, connector: Connector, context: CallContext, error: unknown): ConnectorError {
    const redactor = this.#redactor(context);
    const max = this.#options.maxErrorMessageLength ?? 4096;
    // Redacted before it is cut: a cut could leave a secret's start that no longer matches.
    const text = (raw: string) => truncate(redactor.redact(raw), max);
    if (error instanceof ConnectorError) {
      const safe = new ConnectorError(error.code, text(error.message), { cause: redactedCause(error, redactor) });
      return safe;
    }
    const message = error instanceof Error ? error.message + causeCodes(error) : String(error);
    return new ConnectorError("INTERNAL", text(`failed to ${operation} ${connector.taskTypeName} task with error: ${message}`), {
      cause: redactedCause(error, redactor),
    });
  }
}

/** Resource meta of a sync connector: the whole finished result, so any replica can answer GetTask. */
class SyncResultMeta extends ResourceMeta.define({
  phase: "integer",
  message: "string?",
  outputs: "string?",
  log_links: "array?",
  custom_info: "object?",
}) {
  static fromProto(resource: ResourceProto): SyncResultMeta {
    return new SyncResultMeta({
      phase: resource.phase,
      message: resource.message || null,
      outputs: resource.outputs ? Buffer.from(toBinary(OutputsSchema, resource.outputs)).toString("base64") : null,
      log_links: resource.logLinks.length ? resource.logLinks.map((link) => toJson(TaskLogSchema, link)) : null,
      custom_info: resource.customInfo ?? null,
    });
  }

  /** The whole stored result must make a valid, encodable GetTask answer: a bad one is the caller's bytes. */
  override validate(): void {
    if (Phase[this.phase] === undefined || this.phase === Phase.UNDEFINED) {
      throw new ResourceMetaDecodeError("SyncResultMeta", `phase ${this.phase} is not a valid flyteidl2 TaskExecution.Phase (1 to 8)`);
    }
    const proto = this.toProto();
    try {
      toBinary(ResourceSchema, proto);
    } catch (cause) {
      throw new ResourceMetaDecodeError("SyncResultMeta", `the stored result cannot be encoded: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }

  toProto(): ResourceProto {
    try {
      return create(ResourceSchema, {
        phase: this.phase,
        message: this.message ?? "",
        logLinks: (this.log_links ?? []).map((link) => fromJson(TaskLogSchema, link as JsonValue)),
        ...(this.outputs ? { outputs: fromBinary(OutputsSchema, Buffer.from(this.outputs, "base64")) } : {}),
        ...(this.custom_info ? { customInfo: this.custom_info as JsonObject } : {}),
      });
    } catch (cause) {
      throw new ResourceMetaDecodeError("SyncResultMeta", "the stored result is not readable", { cause });
    }
  }
}

/**
 * The caller's meta bytes, decoded: whatever goes wrong reading them (also in a connector's own `decode`) is
 * the caller's INVALID_ARGUMENT, never an INTERNAL error.
 */
function decodeMeta<M extends ResourceMeta>(type: ResourceMetaType<M>, bytes: Uint8Array): M {
  try {
    return type.decode(bytes);
  } catch (error) {
    if (error instanceof ConnectorError) throw error;
    throw new ResourceMetaDecodeError(type.name, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

function callContext(connection: Connection | undefined, signal: AbortSignal, storage: LiteralStorage | Storage): CallContext {
  return { secrets: { ...connection?.secrets }, configs: { ...connection?.configs }, signal, ...(isStorage(storage) ? { storage } : {}) };
}

/** What getLogs returned, as pages: one page, or an async iterable of them. */
function logPages(answer: LogsPage | AsyncIterable<LogsPage>): AsyncIterable<LogsPage> {
  if (typeof answer === "object" && answer !== null) {
    if (Symbol.asyncIterator in answer) return answer;
    if (Array.isArray(answer.lines)) return one(answer);
  }
  throw new Error("getLogs returned neither a { lines } page nor an async iterable of pages");
}

async function* one(page: LogsPage): AsyncGenerator<LogsPage> {
  yield page;
}

function throwIfAborted(signal: AbortSignal, operation: Operation): void {
  if (signal.aborted) throw ConnectorError.fromAbort(signal, operation);
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal, operation: Operation): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ConnectorError.fromAbort(signal, operation));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The error codes of an error's causes, e.g. ` (ECONNREFUSED)` for fetch's "fetch failed": the reason, without hosts or URLs. */
function causeCodes(error: Error): string {
  const codes: string[] = [];
  for (let e: unknown = error.cause, depth = 0; e && typeof e === "object" && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && !codes.includes(code)) codes.push(code);
  }
  return codes.length ? ` (${codes.join(", ")})` : "";
}

/** The cause kept for logs, with secret values removed from its message and stack. */
function redactedCause(error: unknown, redactor: Redactor): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  if (redactor.empty) return original;
  const copy = new Error(redactor.redact(original.message));
  copy.name = original.name;
  copy.stack = redactor.redact(original.stack ?? "");
  // The cause chain is logged too (e.g. fetch's "fetch failed" → ECONNREFUSED): keep it, redacted.
  if (original.cause !== undefined) copy.cause = redactedCause(original.cause, redactor);
  const code = (original as { code?: unknown }).code;
  if (code !== undefined) Object.assign(copy, { code });
  return copy;
}
