import { randomBytes } from "node:crypto";
import { fromBinary, toBinary, type DescService } from "@bufbuild/protobuf";
import { ConnectorError, type ConnectorDispatcher } from "flyte-connectors";
import type {
  CreateTaskRequest,
  DeleteTaskRequest,
  GetConnectorRequest,
  GetTaskLogsRequest,
  GetTaskMetricsRequest,
  GetTaskRequest,
  TaskCategory,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { InputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import type { Logger } from "pino";
import type { Limiter } from "./limiter.js";
import type { OperationLabel, ServiceMetrics } from "./metrics.js";
import { cutMessage, grpcCode, httpCode } from "./status.js";
import type { MethodDefinition, ServerCall } from "./transport/server.js";
import { Status, statusName } from "./transport/status.js";

/** What the handlers call: the core SDK's dispatcher (or anything of its shape). */
export type Dispatcher = Pick<
  ConnectorDispatcher,
  "createTask" | "getTask" | "deleteTask" | "getTaskMetrics" | "getTaskLogs" | "listConnectors" | "getConnector"
>;

/** Mutable state shared by the handlers and the service lifecycle. */
export interface CallState {
  /** False until connectors are loaded: connector calls answer UNAVAILABLE. */
  ready: boolean;
  /** Calls being handled (all RPCs but health). */
  inFlight: number;
  /** Called whenever `inFlight` drops to 0. */
  onIdle: (() => void) | undefined;
}

export interface HandlerContext {
  dispatcher: Dispatcher;
  metrics: ServiceMetrics;
  logger: Logger;
  limiter: Limiter;
  state: CallState;
}

interface GrpcError {
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

/** Label objects, reused across calls (task types are few). */
const labelCache = new Map<string, { task_type: string; operation: OperationLabel }>();

function labelsOf(op: OperationLabel, taskType: string): { task_type: string; operation: OperationLabel } {
  const key = `${op}\u0000${taskType}`;
  let labels = labelCache.get(key);
  if (!labels) {
    labels = { task_type: taskType, operation: op };
    if (labelCache.size < 10_000) labelCache.set(key, labels);
  }
  return labels;
}

function record(ctx: HandlerContext, op: OperationLabel, taskType: string, reqId: string, started: number, error: GrpcError | undefined): void {
  const seconds = (performance.now() - started) / 1000;
  const labels = labelsOf(op, taskType);
  ctx.metrics.latency.observe(labels, seconds);
  if (error) {
    ctx.metrics.failure.inc({ task_type: taskType, operation: op, error_code: httpCode(error.code) });
    ctx.logger.warn({ reqId, op, taskType, ms: Math.round(seconds * 1e4) / 10, code: statusName(error.code), msg: error.details }, "request failed");
  } else {
    ctx.metrics.success.inc(labels);
    ctx.logger.info({ reqId, op, taskType, ms: Math.round(seconds * 1e4) / 10 }, "request");
  }
}

/** How a unary method runs: its metric/log operation, its task type, the dispatcher call, and whether --worker limits it. */
interface UnarySpec {
  op: OperationLabel;
  taskTypeOf: (request: never) => string;
  run: (request: never, signal: AbortSignal) => Promise<unknown> | unknown;
  limited: boolean;
}

/** The error a failed call answers with: aborted (deadline/cancel) while not inside the dispatcher, or the dispatcher's. */
function failure(ctx: HandlerContext, error: unknown, signal: AbortSignal, log: { reqId: string; op: OperationLabel; taskType: string }): GrpcError {
  return signal.aborted && !(error instanceof ConnectorError) ? abortedError(signal) : toGrpcError(error, ctx, log);
}

/** A unary connector call: readiness, limiter, abort signal from deadline/cancel, metrics, one log line. */
async function runUnary(ctx: HandlerContext, spec: UnarySpec, call: ServerCall): Promise<void> {
  const started = performance.now();
  const request = call.request as never;
  const { op } = spec;
  let taskType = "";
  let reqId = "";
  try {
    taskType = spec.taskTypeOf(request);
    reqId = requestId(call);
  } catch (error) {
    call.fail(Status.INTERNAL, "Internal error");
    ctx.logger.error({ err: error, op }, "unexpected error in the connector service");
    return;
  }
  if (!ctx.state.ready) {
    const error = unavailable();
    record(ctx, op, taskType, reqId, started, error);
    call.fail(error.code, error.details);
    return;
  }
  begin(ctx);
  const signal = call.signal;
  try {
    let response: unknown;
    if (spec.limited) {
      const wait = ctx.limiter.acquire(signal);
      if (wait) await wait;
      try {
        response = await spec.run(request, signal);
      } finally {
        ctx.limiter.release();
      }
    } else {
      response = await spec.run(request, signal);
    }
    record(ctx, op, taskType, reqId, started, undefined);
    call.respond(response);
  } catch (error) {
    const grpcError = failure(ctx, error, signal, { reqId, op, taskType });
    record(ctx, op, taskType, reqId, started, grpcError);
    call.fail(grpcError.code, grpcError.details);
  } finally {
    end(ctx);
  }
}

/** A call that ended waiting for a worker slot. */
function abortedError(signal: AbortSignal): GrpcError {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === "TimeoutError"
    ? { code: Status.DEADLINE_EXCEEDED, details: "Deadline exceeded while waiting for a worker." }
    : { code: Status.CANCELLED, details: "Call cancelled while waiting for a worker." };
}

async function runGetTaskLogs(ctx: HandlerContext, call: ServerCall): Promise<void> {
  const started = performance.now();
  const request = call.request as GetTaskLogsRequest;
  const taskType = categoryName(request.taskCategory);
  const reqId = requestId(call);
  if (!ctx.state.ready) {
    const error = unavailable();
    record(ctx, "logs", taskType, reqId, started, error);
    call.fail(error.code, error.details);
    return;
  }
  begin(ctx);
  const signal = call.signal;
  try {
    const wait = ctx.limiter.acquire(signal);
    if (wait) await wait;
    try {
      for await (const part of ctx.dispatcher.getTaskLogs(request, signal)) {
        if (signal.aborted || call.done) break;
        if (!call.write(part)) await call.drained();
      }
    } finally {
      ctx.limiter.release();
    }
    record(ctx, "logs", taskType, reqId, started, undefined);
    call.end();
  } catch (error) {
    const grpcError = failure(ctx, error, signal, { reqId, op: "logs", taskType });
    record(ctx, "logs", taskType, reqId, started, grpcError);
    call.fail(grpcError.code, grpcError.details);
  } finally {
    end(ctx);
  }
}

function unary(ctx: HandlerContext, spec: UnarySpec): (call: ServerCall) => void {
  return (call) => void runUnary(ctx, spec, call);
}

/** Transport method definitions of a protobuf-es service, with its handlers by method local name. */
export function methodDefinitions(service: DescService, handlers: Record<string, (call: ServerCall) => void>): MethodDefinition[] {
  return service.methods.map((method) => {
    const handler = handlers[method.localName];
    if (!handler) throw new Error(`no handler for ${service.typeName}.${method.name}`);
    if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") throw new Error(`${method.methodKind} methods are not supported`);
    const input = method.input;
    const output = method.output;
    return {
      path: `/${service.typeName}/${method.name}`,
      kind: method.methodKind,
      decode: (bytes: Uint8Array) => fromBinary(input, bytes),
      encode: (message: unknown) => toBinary(output, message as never),
      handler,
    };
  });
}

/** Handlers of flyteidl2.connector.AsyncConnectorService, by method local name. */
export function asyncConnectorHandlers(ctx: HandlerContext): Record<string, (call: ServerCall) => void> {
  const d = ctx.dispatcher;
  const byCategory = (r: { taskCategory?: TaskCategory | undefined }) => categoryName(r.taskCategory);
  return {
    createTask: unary(ctx, {
      op: "create",
      taskTypeOf: (request: CreateTaskRequest) => {
        const taskType = request.template?.type ?? "";
        ctx.metrics.inputBytes.observe({ task_type: taskType }, request.inputs ? toBinary(InputsSchema, request.inputs).byteLength : 0);
        return taskType;
      },
      run: (request: CreateTaskRequest, signal) => d.createTask(request, signal),
      limited: true,
    }),
    getTask: unary(ctx, { op: "get", taskTypeOf: byCategory, run: (r: GetTaskRequest, s) => d.getTask(r, s), limited: true }),
    deleteTask: unary(ctx, { op: "delete", taskTypeOf: byCategory, run: (r: DeleteTaskRequest, s) => d.deleteTask(r, s), limited: true }),
    getTaskMetrics: unary(ctx, { op: "metrics", taskTypeOf: byCategory, run: (r: GetTaskMetricsRequest, s) => d.getTaskMetrics(r, s), limited: true }),
    getTaskLogs: (call) => void runGetTaskLogs(ctx, call),
  };
}

/** Handlers of flyteidl2.connector.ConnectorMetadataService (not limited by --worker: they never call connectors). */
export function metadataHandlers(ctx: HandlerContext): Record<string, (call: ServerCall) => void> {
  const d = ctx.dispatcher;
  return {
    listConnectors: unary(ctx, { op: "list", taskTypeOf: () => "", run: () => d.listConnectors(), limited: false }),
    getConnector: unary(ctx, { op: "get_connector", taskTypeOf: () => "", run: (r: GetConnectorRequest) => d.getConnector(r), limited: false }),
  };
}
