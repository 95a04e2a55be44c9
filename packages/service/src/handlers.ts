import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import {
  status as Status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { ConnectorError, type ConnectorDispatcher } from "flyte-connectors";
import type {
  CreateTaskRequest,
  DeleteTaskRequest,
  GetConnectorRequest,
  GetTaskLogsRequest,
  GetTaskMetricsRequest,
  GetTaskRequest,
  ListConnectorsRequest,
  TaskCategory,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { InputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import type { Logger } from "pino";
import type { Limiter } from "./limiter.js";
import type { OperationLabel, ServiceMetrics } from "./metrics.js";
import { cutMessage, grpcCode, httpCode } from "./status.js";

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
  code: Status;
  details: string;
}

const requestIdPrefix = randomBytes(4).toString("hex");
let requestCounter = 0;

function requestId(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): string {
  const given = call.metadata.get("x-request-id")[0];
  if (typeof given === "string" && given.length > 0 && given.length <= 128) return given;
  return `${requestIdPrefix}-${(++requestCounter).toString(36)}`;
}

function categoryName(category: TaskCategory | undefined): string {
  return category?.name ?? "";
}

/**
 * Aborts `controller` when the call is cancelled (client cancel, or grpc-js's deadline timer). A deadline that
 * passed names its reason "TimeoutError" (as AbortSignal.timeout does): the core maps it to DEADLINE_EXCEEDED.
 * grpc-js also emits "cancelled" when a finished call's stream closes: call the returned function when done.
 */
function abortOnCancel(call: CancellableCall, controller: AbortController): () => void {
  const onCancel = () => {
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : typeof deadline === "number" ? deadline : Infinity;
    controller.abort(
      Date.now() >= ms - 5
        ? new DOMException("The call's deadline passed.", "TimeoutError")
        : new DOMException("The client cancelled the call.", "AbortError"),
    );
  };
  call.once("cancelled", onCancel);
  return () => call.removeListener("cancelled", onCancel);
}

interface CancellableCall {
  getDeadline(): unknown;
  once(event: "cancelled", fn: () => void): unknown;
  removeListener(event: "cancelled", fn: () => void): unknown;
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
    ctx.logger.warn({ reqId, op, taskType, ms: Math.round(seconds * 1e4) / 10, code: Status[error.code], msg: error.details }, "request failed");
  } else {
    ctx.metrics.success.inc(labels);
    ctx.logger.info({ reqId, op, taskType, ms: Math.round(seconds * 1e4) / 10 }, "request");
  }
}

/** A unary connector call: readiness, limiter, abort signal from deadline/cancel, metrics, one log line. */
function unary<Req, Res>(
  ctx: HandlerContext,
  op: OperationLabel,
  taskTypeOf: (request: Req) => string,
  run: (request: Req, signal: AbortSignal) => Promise<Res> | Res,
  limited: boolean,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    const request = call.request;
    const taskType = taskTypeOf(request);
    const reqId = requestId(call as ServerUnaryCall<unknown, unknown>);
    if (!ctx.state.ready) {
      const error = unavailable();
      record(ctx, op, taskType, reqId, started, error);
      callback(error);
      return;
    }
    begin(ctx);
    const controller = new AbortController();
    const detach = abortOnCancel(call, controller);
    const execute = async (): Promise<Res> => {
      if (!limited) return await run(request, controller.signal);
      const wait = ctx.limiter.acquire(controller.signal);
      if (wait) await wait;
      try {
        return await run(request, controller.signal);
      } finally {
        ctx.limiter.release();
      }
    };
    execute().then(
      (response) => {
        detach();
        record(ctx, op, taskType, reqId, started, undefined);
        callback(null, response);
        end(ctx);
      },
      (error: unknown) => {
        detach();
        const grpcError =
          controller.signal.aborted && !(error instanceof ConnectorError)
            ? abortedError(controller.signal)
            : toGrpcError(error, ctx, { reqId, op, taskType });
        record(ctx, op, taskType, reqId, started, grpcError);
        callback(grpcError);
        end(ctx);
      },
    );
  };
}

/** A call that ended waiting for a worker slot. */
function abortedError(signal: AbortSignal): GrpcError {
  const reason = signal.reason as { name?: string } | undefined;
  return reason?.name === "TimeoutError"
    ? { code: Status.DEADLINE_EXCEEDED, details: "Deadline exceeded while waiting for a worker." }
    : { code: Status.CANCELLED, details: "Call cancelled while waiting for a worker." };
}

function waitDrainOrAbort(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<unknown> {
  return once(call, "drain", { signal }).catch(() => undefined);
}

function getTaskLogs(ctx: HandlerContext): handleServerStreamingCall<GetTaskLogsRequest, unknown> {
  return (call) => {
    const started = performance.now();
    const request = call.request;
    const taskType = categoryName(request.taskCategory);
    const reqId = requestId(call as ServerWritableStream<unknown, unknown>);
    if (!ctx.state.ready) {
      const error = unavailable();
      record(ctx, "logs", taskType, reqId, started, error);
      call.emit("error", error);
      return;
    }
    begin(ctx);
    const controller = new AbortController();
    const detach = abortOnCancel(call, controller);
    const stream = async () => {
      const wait = ctx.limiter.acquire(controller.signal);
      if (wait) await wait;
      try {
        for await (const part of ctx.dispatcher.getTaskLogs(request, controller.signal)) {
          if (controller.signal.aborted) break;
          if (!call.write(part)) await waitDrainOrAbort(call as ServerWritableStream<unknown, unknown>, controller.signal);
        }
      } finally {
        ctx.limiter.release();
      }
    };
    stream().then(
      () => {
        detach();
        record(ctx, "logs", taskType, reqId, started, undefined);
        call.end();
        end(ctx);
      },
      (error: unknown) => {
        detach();
        const grpcError =
          controller.signal.aborted && !(error instanceof ConnectorError)
            ? abortedError(controller.signal)
            : toGrpcError(error, ctx, { reqId, op: "logs", taskType });
        record(ctx, "logs", taskType, reqId, started, grpcError);
        call.emit("error", grpcError);
        end(ctx);
      },
    );
  };
}

/** Handlers of flyteidl2.connector.AsyncConnectorService. */
export function asyncConnectorHandlers(ctx: HandlerContext): UntypedServiceImplementation {
  const d = ctx.dispatcher;
  return {
    createTask: unary<CreateTaskRequest, unknown>(
      ctx,
      "create",
      (request) => {
        const taskType = request.template?.type ?? "";
        ctx.metrics.inputBytes.observe({ task_type: taskType }, request.inputs ? toBinary(InputsSchema, request.inputs).byteLength : 0);
        return taskType;
      },
      (request, signal) => d.createTask(request, signal),
      true,
    ),
    getTask: unary<GetTaskRequest, unknown>(ctx, "get", (r) => categoryName(r.taskCategory), (r, s) => d.getTask(r, s), true),
    deleteTask: unary<DeleteTaskRequest, unknown>(ctx, "delete", (r) => categoryName(r.taskCategory), (r, s) => d.deleteTask(r, s), true),
    getTaskMetrics: unary<GetTaskMetricsRequest, unknown>(
      ctx,
      "metrics",
      (r) => categoryName(r.taskCategory),
      (r, s) => d.getTaskMetrics(r, s),
      true,
    ),
    getTaskLogs: getTaskLogs(ctx),
  } as UntypedServiceImplementation;
}

/** Handlers of flyteidl2.connector.ConnectorMetadataService (not limited by --worker: they never call connectors). */
export function metadataHandlers(ctx: HandlerContext): UntypedServiceImplementation {
  const d = ctx.dispatcher;
  return {
    listConnectors: unary<ListConnectorsRequest, unknown>(ctx, "list", () => "", () => d.listConnectors(), false),
    getConnector: unary<GetConnectorRequest, unknown>(ctx, "get_connector", () => "", (r) => d.getConnector(r), false),
  } as UntypedServiceImplementation;
}
