import { randomBytes } from "node:crypto";
import { fromBinary, toBinary, type DescService } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { ConnectorError, type ConnectorDispatcher } from "flyte-connectors";
import {
  CreateTaskRequestSchema,
  type CreateTaskRequest,
  type DeleteTaskRequest,
  type GetConnectorRequest,
  type GetTaskLogsRequest,
  type GetTaskMetricsRequest,
  type GetTaskRequest,
  type TaskCategory,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import type { Logger } from "pino";
import type { OperationLabel, ServiceMetrics } from "./metrics.js";
import { cutMessage, grpcCode, httpCode } from "./status.js";
import type { CallProtocol, MethodDefinition, ServerCall } from "./transport/types.js";
import { Status, statusName } from "./transport/status.js";

/** What the handlers call: the core SDK's dispatcher (or anything of its shape). */
export type Dispatcher = Pick<
  ConnectorDispatcher,
  "createTask" | "getTask" | "deleteTask" | "getTaskMetrics" | "getTaskLogs" | "listConnectors" | "getConnector"
> &
  // Flyte 1's ExecuteTaskSync (flyte1/handlers.ts); FAILED_PRECONDITION without it.
  Partial<Pick<ConnectorDispatcher, "executeTaskSync">>;

/** Mutable state shared by the handlers and the service lifecycle. */
export interface CallState {
  /** False until connectors are loaded: connector calls answer UNAVAILABLE. */
  ready: boolean;
  /** Calls being handled (all RPCs but health). */
  inFlight: number;
  /** Called whenever `inFlight` drops to 0. */
  onIdle: (() => void) | undefined;
  /**
   * Task types served (set once connectors are loaded; the registry does not change after that): the only
   * `task_type` metrics label values besides "" and "unknown".
   */
  taskTypes: ReadonlySet<string>;
}

export interface HandlerContext {
  dispatcher: Dispatcher;
  metrics: ServiceMetrics;
  logger: Logger;
  state: CallState;
}

export interface GrpcError {
  code: number;
  details: string;
}

const requestIdPrefix = randomBytes(4).toString("hex");
let requestCounter = 0;

/** The `x-request-id` metadata if sent (≤ 128 chars), else `<random per process>-<counter>`. */
function requestId(call: ServerCall): string {
  const given = call.header("x-request-id");
  if (given !== undefined && given.length > 0 && given.length <= 128) return given;
  return `${requestIdPrefix}-${(++requestCounter).toString(36)}`;
}

function categoryName(category: TaskCategory | undefined): string {
  return category?.name ?? "";
}

/** The dispatcher's ConnectorError → status; anything else is a bug: INTERNAL with a generic message (cause logged). */
function toGrpcError(error: unknown, ctx: HandlerContext, log: Record<string, unknown>): GrpcError {
  if (error instanceof ConnectorError) {
    const code = grpcCode(error.code);
    if (code === Status.INTERNAL) ctx.logger.error({ ...log, err: error.cause ?? error }, "connector call failed");
    return { code, details: cutMessage(error.message) };
  }
  ctx.logger.error({ ...log, err: error }, "unexpected error in the connector service");
  return { code: Status.INTERNAL, details: `Internal error (request id ${String(log.reqId)}).` };
}

function unavailable(): GrpcError {
  return { code: Status.UNAVAILABLE, details: "The connector service is still loading connectors." };
}

function begin(ctx: HandlerContext): void {
  ctx.state.inFlight++;
}

function end(ctx: HandlerContext): void {
  if (--ctx.state.inFlight === 0) ctx.state.onIdle?.();
}

/** Longest task type written to a log line (the metrics label is bounded separately, see {@link taskTypeLabel}). */
const MAX_LOGGED_TASK_TYPE = 128;

/**
 * The `task_type` metrics label: the task type if this service serves it, "" when there is none (metadata calls),
 * else "unknown". Clients choose task types, so labelling them as sent would add series without bound.
 */
function taskTypeLabel(ctx: HandlerContext, taskType: string): string {
  return taskType === "" || ctx.state.taskTypes.has(taskType) ? taskType : "unknown";
}

/** Label objects, reused across calls (operations × served task types: bounded). */
const labelCache = new Map<string, { task_type: string; operation: OperationLabel }>();

function labelsOf(op: OperationLabel, label: string): { task_type: string; operation: OperationLabel } {
  const key = `${op}\u0000${label}`;
  let labels = labelCache.get(key);
  if (!labels) labelCache.set(key, (labels = { task_type: label, operation: op }));
  return labels;
}

/** The task type as logged: as sent, cut to {@link MAX_LOGGED_TASK_TYPE} characters. */
function loggedTaskType(taskType: string): string {
  return taskType.length <= MAX_LOGGED_TASK_TYPE ? taskType : `${taskType.slice(0, MAX_LOGGED_TASK_TYPE)}…`;
}

/** One call's metrics (`label`: {@link taskTypeLabel}'s) and log line (`taskType`: {@link loggedTaskType}'s). */
function record(ctx: HandlerContext, op: OperationLabel, taskType: string, label: string, reqId: string, protocol: CallProtocol, started: number, error: GrpcError | undefined): void {
  const seconds = (performance.now() - started) / 1000;
  const labels = labelsOf(op, label);
  ctx.metrics.latency.observe(labels, seconds);
  if (error) {
    ctx.metrics.failure.inc({ task_type: label, operation: op, error_code: httpCode(error.code) });
    ctx.logger.warn({ reqId, protocol, op, taskType, ms: Math.round(seconds * 1e4) / 10, code: statusName(error.code), reason: error.details }, "request failed");
  } else {
    ctx.metrics.success.inc(labels);
    ctx.logger.info({ reqId, protocol, op, taskType, ms: Math.round(seconds * 1e4) / 10 }, "request");
  }
}

/**
 * The status of a call whose signal fired (deadline passed / client cancelled) outside the dispatcher — waiting
 * for the client to read a log stream. (Inside it, the dispatcher maps aborts itself, also while the call waits
 * for a concurrency slot: see ConnectorLimits.)
 * The client has already been answered by the transport (or is gone): this is what metrics and logs record.
 */
function abortedError(signal: AbortSignal): GrpcError {
  const error = ConnectorError.fromAbort(signal);
  return { code: grpcCode(error.code), details: error.message };
}

/** The error a failed call answers with: aborted (deadline/cancel) while not inside the dispatcher, or the dispatcher's. */
function failure(ctx: HandlerContext, error: unknown, signal: AbortSignal, log: { reqId: string; op: OperationLabel; taskType: string }): GrpcError {
  return signal.aborted && !(error instanceof ConnectorError) ? abortedError(signal) : toGrpcError(error, ctx, log);
}

/** How a connector call runs: its metric/log operation, its task type, and how it answers. */
export interface CallSpec {
  op: OperationLabel;
  taskTypeOf: (request: never, call: ServerCall) => string;
  /** Called once the service is ready, before `answer`, with the metrics label of the task type. */
  observe?: (request: never, label: string) => void;
  /**
   * Answers the call (respond, or write … end). Resolves undefined when it answered with success, or with the
   * status to record when the call ended another way (e.g. aborted mid-stream); throws when it failed (the
   * caller then answers with the mapped status).
   */
  answer: (request: never, call: ServerCall) => Promise<GrpcError | undefined>;
}

/** A connector call: readiness, in-flight count, abort signal from deadline/cancel, metrics, one log line. */
async function runCall(ctx: HandlerContext, spec: CallSpec, call: ServerCall): Promise<void> {
  const started = performance.now();
  const request = call.request as never;
  const { op } = spec;
  const sent = spec.taskTypeOf(request, call);
  const label = taskTypeLabel(ctx, sent);
  const taskType = loggedTaskType(sent);
  const reqId = requestId(call);
  if (!ctx.state.ready) {
    const error = unavailable();
    record(ctx, op, taskType, label, reqId, call.protocol, started, error);
    call.fail(error.code, error.details);
    return;
  }
  begin(ctx);
  try {
    spec.observe?.(request, label);
    const ended = await spec.answer(request, call);
    record(ctx, op, taskType, label, reqId, call.protocol, started, ended);
  } catch (error) {
    const grpcError = failure(ctx, error, call.signal, { reqId, op, taskType });
    record(ctx, op, taskType, label, reqId, call.protocol, started, grpcError);
    call.fail(grpcError.code, grpcError.details);
  } finally {
    end(ctx);
  }
}

export function handle(ctx: HandlerContext, spec: CallSpec): (call: ServerCall) => void {
  return (call) => {
    runCall(ctx, spec, call).catch((error: unknown) => {
      ctx.logger.error({ err: error, op: spec.op }, "unexpected error in the connector service");
      call.fail(Status.INTERNAL, "Internal error");
    });
  };
}

/**
 * A unary method: its metric/log operation, its task type and the dispatcher call. (Concurrency limits —
 * `--worker` and each connector's `maxConcurrency` — apply inside the dispatcher, around the connector's code.)
 */
export interface UnarySpec<R> {
  op: OperationLabel;
  taskTypeOf: (request: R) => string;
  run: (request: R, signal: AbortSignal) => unknown;
  observe?: (request: R, label: string) => void;
}

export function unary<R>(ctx: HandlerContext, spec: UnarySpec<R>): (call: ServerCall) => void {
  const { run } = spec;
  return handle(ctx, {
    op: spec.op,
    taskTypeOf: spec.taskTypeOf as CallSpec["taskTypeOf"],
    ...(spec.observe ? { observe: spec.observe as CallSpec["observe"] } : {}),
    answer: async (request: never, call) => {
      const signal = call.signal;
      call.respond(await run(request, signal));
      return undefined;
    },
  });
}

/**
 * GetTaskLogs: streams the dispatcher's parts with backpressure. A concurrency slot is held only while the
 * connector produces the next part (the dispatcher runs each `next()` through the limits), not while the stream
 * waits for the client to read: a slow UI log tail must not starve CreateTask/GetTask.
 */
async function streamLogs(ctx: HandlerContext, request: GetTaskLogsRequest, call: ServerCall): Promise<GrpcError | undefined> {
  const signal = call.signal;
  const parts = ctx.dispatcher.getTaskLogs(request, signal);
  let finished = false;
  try {
    for (;;) {
      const next = await parts.next();
      if (next.done) break;
      if (!signal.aborted && !call.done && !call.write(next.value)) await call.drained();
      // Deadline passed, client cancelled, or the transport failed the call (a write error: INTERNAL answered).
      if (signal.aborted) return abortedError(signal);
      if (call.done) return { code: Status.INTERNAL, details: "Failed to send a response message." };
    }
    finished = true;
  } finally {
    // Stopped early: close the connector's page iterator (its cleanup is not waited for, nor its errors kept).
    if (!finished) parts.return(undefined).catch(noop);
  }
  call.end();
  return undefined;
}

function noop(): void {}

/** The `inputs` (field 1) length of a serialized CreateTaskRequest, read from its top-level fields: no re-encoding. */
function inputsFieldBytes(bytes: Uint8Array): number {
  const reader = new BinaryReader(bytes);
  let size = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) size += reader.bytes().byteLength;
    else reader.skip(wireType, field);
  }
  return size;
}

/** `inputs` sizes of decoded CreateTask requests, as received (measured while decoding; gone with the request). */
const inputSizes = new WeakMap<object, number>();

function decodeCreateTask(bytes: Uint8Array): CreateTaskRequest {
  const request = fromBinary(CreateTaskRequestSchema, bytes);
  inputSizes.set(request, inputsFieldBytes(bytes));
  return request;
}

/** A handler, optionally with its own request decoder (default: the method's protobuf-es `fromBinary`). */
export type Handler = ((call: ServerCall) => void) & { decode?: (bytes: Uint8Array) => unknown };

/** Transport method definitions of a protobuf-es service, with its handlers by method local name. */
export function methodDefinitions(service: DescService, handlers: Record<string, Handler>): MethodDefinition[] {
  return service.methods.map((method) => {
    const handler = handlers[method.localName];
    if (!handler) throw new Error(`no handler for ${service.typeName}.${method.name}`);
    if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") throw new Error(`${method.methodKind} methods are not supported`);
    const input = method.input;
    const output = method.output;
    return {
      path: `/${service.typeName}/${method.name}`,
      kind: method.methodKind,
      decode: handler.decode ?? ((bytes: Uint8Array) => fromBinary(input, bytes)),
      encode: (message: unknown) => toBinary(output, message as never),
      schema: method,
      handler,
    };
  });
}

/**
 * Handlers of flyteidl2.connector.AsyncConnectorService, by method local name. Connector code holds a concurrency
 * slot (`--worker`, the connector's `maxConcurrency`) while it runs, taken inside the dispatcher.
 */
export function asyncConnectorHandlers(ctx: HandlerContext): Record<string, Handler> {
  const d = ctx.dispatcher;
  const byCategory = (r: { taskCategory?: TaskCategory | undefined }) => categoryName(r.taskCategory);
  return {
    createTask: Object.assign(
      unary(ctx, {
        op: "create",
        taskTypeOf: (r: CreateTaskRequest) => r.template?.type ?? "",
        run: (r: CreateTaskRequest, s) => d.createTask(r, s),
        observe: (r: CreateTaskRequest, label) => ctx.metrics.inputBytes.observe({ task_type: label }, inputSizes.get(r) ?? 0),
      }),
      { decode: decodeCreateTask },
    ),
    getTask: unary(ctx, { op: "get", taskTypeOf: byCategory, run: (r: GetTaskRequest, s) => d.getTask(r, s) }),
    deleteTask: unary(ctx, { op: "delete", taskTypeOf: byCategory, run: (r: DeleteTaskRequest, s) => d.deleteTask(r, s) }),
    getTaskMetrics: unary(ctx, { op: "metrics", taskTypeOf: byCategory, run: (r: GetTaskMetricsRequest, s) => d.getTaskMetrics(r, s) }),
    getTaskLogs: handle(ctx, {
      op: "logs",
      taskTypeOf: byCategory as CallSpec["taskTypeOf"],
      answer: (request: never, call) => streamLogs(ctx, request, call),
    }),
  };
}

/** Handlers of flyteidl2.connector.ConnectorMetadataService (never limited: they never call connectors). */
export function metadataHandlers(ctx: HandlerContext): Record<string, Handler> {
  const d = ctx.dispatcher;
  return {
    listConnectors: unary(ctx, { op: "list", taskTypeOf: () => "", run: () => d.listConnectors() }),
    getConnector: unary(ctx, { op: "get_connector", taskTypeOf: () => "", run: (r: GetConnectorRequest) => d.getConnector(r) }),
  };
}
