import type { MessageInitShape } from "@bufbuild/protobuf";
import type { JsonObject } from "@bufbuild/protobuf";
import type { TaskExecutionMetadata, GetTaskMetricsResponseSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import type { TaskLogSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/execution_pb.js";
import type { TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import type { LogLineSchema } from "@flyte-connectors/flyteidl2/flyteidl2/logs/dataplane/payload_pb.js";
import type { Phase } from "./phase.js";
import type { ResourceMeta, ResourceMetaType } from "./resource-meta.js";
import type { Storage } from "./storage/types.js";
import type { DeclaredTypes } from "./types/index.js";

/** A flyteidl2 `core.TaskLog` as a plain object, e.g. `{ name: "Console", uri: "https://…" }`. */
export type TaskLogInit = MessageInitShape<typeof TaskLogSchema>;

/** The state of an external job, as `get` (or a sync connector's `do`) reports it. */
export interface Resource {
  /** Phase of the job; use a terminal phase (SUCCEEDED, FAILED, …) to end polling. Never UNDEFINED. */
  phase: Phase;
  /** Human-readable status, shown in the Flyte UI; required in practice for FAILED. */
  message?: string;
  /** Links shown in the Flyte UI (a console page, a dashboard). */
  logLinks?: TaskLogInit[];
  /**
   * Outputs by name as JavaScript values, converted by the type engine (with the connector's
   * `outputTypes` when declared). Leave unset when the job wrote `<outputPrefix>/outputs.pb` itself.
   */
  outputs?: Record<string, unknown>;
  /** Extra JSON the backend stores with the task execution. */
  customInfo?: JsonObject;
}

/** What every connector call receives: the connection's secrets and configs and a cancellation signal. */
export interface CallContext {
  /** Secret values by name, from the request's `connection.secrets` (resolved by the backend). Never log them. */
  secrets: Readonly<Record<string, string>>;
  /** Non-secret settings by name, from the request's `connection.configs`. */
  configs: Readonly<Record<string, string>>;
  /** Fires when the caller's deadline passes or the caller cancels; pass it to fetch and SDK calls. */
  signal: AbortSignal;
  /**
   * The dispatcher's object storage: read inputs and upload results with it (e.g.
   * `FlyteFile.fromLocal(path, { prefix: outputPrefix, storage })`). In `serve` it refuses local paths unless
   * --allow-local-files. Unset when the dispatcher was given a read-only LiteralStorage (use `defaultStorage()`).
   */
  storage?: Storage;
}

/** The arguments of `create` (and of a sync connector's `do`). */
export interface CreateRequest extends CallContext {
  /** The full flyteidl2 task template the backend sent. */
  taskTemplate: TaskTemplate;
  /** `taskTemplate.custom` as a plain object (`{}` when unset). */
  custom: JsonObject;
  /** Inputs decoded to JavaScript values by the type engine, keyed by input name. */
  inputs: Record<string, unknown>;
  /** Where the backend expects outputs: `<scheme>://<bucket>/…/<attempt>`, no trailing slash. */
  outputPrefix: string;
  /** Task execution identity, namespace, labels, environment…; unset in some local runs. */
  taskExecutionMetadata: TaskExecutionMetadata | undefined;
}

/** The arguments of `get`, `delete`, `getMetrics` and `getLogs`. */
export interface ResourceRequest<M extends ResourceMeta> extends CallContext {
  /** The meta `create` returned, decoded from the bytes the backend stored. */
  resourceMeta: M;
  /** Output prefix of the attempt (set on get; empty on delete, metrics and logs). */
  outputPrefix: string;
}

export interface MetricsRequest<M extends ResourceMeta> extends ResourceRequest<M> {
  /** Metric queries the caller asks for. */
  queries: string[];
  startTime: Date | undefined;
  endTime: Date | undefined;
  /** Resolution step in milliseconds, when given. */
  stepMillis: number | undefined;
}

export interface LogsRequest<M extends ResourceMeta> extends ResourceRequest<M> {
  /** Maximum number of lines the caller wants (0: connector's choice). */
  lines: number;
  /** Continuation token from a previous page ("" for the first page). */
  token: string;
}

/** One page of logs; `token` (when set) lets the caller ask for the next page. */
export interface LogsPage {
  lines: Array<string | MessageInitShape<typeof LogLineSchema>>;
  token?: string;
}

export type MetricsResult = MessageInitShape<typeof GetTaskMetricsResponseSchema>;

/** Fields shared by async and sync connectors. */
interface ConnectorBase {
  /** Display name; connectors with the same name are listed as one, with all their task categories. */
  readonly name: string;
  /** The task type (`TaskTemplate.type`) this connector serves. */
  readonly taskTypeName: string;
  /** The task type version (`TaskTemplate.task_type_version`) this connector serves. */
  readonly taskTypeVersion: number;
  /** Output types, when the connector knows them; otherwise outputs are inferred from values. */
  readonly outputTypes?: DeclaredTypes | undefined;
  /**
   * Most calls of this connector (create, get, delete, metrics, a log page; `do` for a sync connector) running at
   * once in one service process; further calls wait in order until one settles, their deadline passes or the
   * caller cancels. Set it to protect a vendor API with a rate or concurrency quota. A call holds its place until
   * the connector's own work settles, even after its caller is answered. Default: undefined (no limit).
   */
  readonly maxConcurrency?: number | undefined;
}

/**
 * A connector for long-running external jobs: `create` starts one and returns its identity, `get` reports
 * its state until a terminal phase, `delete` cancels it. All three must be idempotent: the backend retries.
 *
 * ```ts
 * class JobMeta extends ResourceMeta.define({ job_id: "string" }) {}
 * class MyConnector extends AsyncConnector<JobMeta> {
 *   name = "My Connector"; taskTypeName = "my_task"; metadataType = JobMeta;
 *   async create({ inputs, signal }) { … return new JobMeta({ job_id }); }
 *   async get({ resourceMeta }) { … return { phase: Phase.RUNNING }; }
 *   async delete({ resourceMeta }) { … }
 * }
 * ```
 */
export abstract class AsyncConnector<M extends ResourceMeta = ResourceMeta> implements ConnectorBase {
  readonly kind = "async" as const;
  abstract readonly name: string;
  abstract readonly taskTypeName: string;
  /** Defaults to 0. */
  readonly taskTypeVersion: number = 0;
  /** The class of this connector's resource meta; the service decodes stored bytes with it. */
  abstract readonly metadataType: ResourceMetaType<M>;
  readonly outputTypes?: DeclaredTypes | undefined;
  /** Most calls running at once in one service process (see {@link ConnectorBase.maxConcurrency}). Default: no limit. */
  declare readonly maxConcurrency?: number | undefined;

  /** Starts the external job. Creating twice for one attempt (a retried call) must not start two jobs. */
  abstract create(request: CreateRequest): Promise<M>;
  /** Reports the job's state. Report transient trouble as the last known phase with a message, not a throw. */
  abstract get(request: ResourceRequest<M>): Promise<Resource>;
  /** Cancels the job. Must succeed for finished, already deleted and unknown jobs. */
  abstract delete(request: ResourceRequest<M>): Promise<void>;
  /** Optional: metrics of the job. */
  getMetrics?(request: MetricsRequest<M>): Promise<MetricsResult>;
  /** Optional: logs of the job, one page or a stream of pages. */
  getLogs?(request: LogsRequest<M>): Promise<LogsPage> | AsyncIterable<LogsPage>;
}

/**
 * A connector for request/response services (an internal API, a model endpoint): `do` answers at once.
 *
 * flyteidl2 has no synchronous RPC, so the service runs `do` inside CreateTask and stores the finished
 * result in the resource meta; the first GetTask returns it and DeleteTask does nothing. Keep outputs small
 * (the backend stores the meta in the task's status; aim well under 1 MiB).
 */
export abstract class SyncConnector implements ConnectorBase {
  readonly kind = "sync" as const;
  abstract readonly name: string;
  abstract readonly taskTypeName: string;
  /** Defaults to 0. */
  readonly taskTypeVersion: number = 0;
  readonly outputTypes?: DeclaredTypes | undefined;
  /** Most `do` calls running at once in one service process (see {@link ConnectorBase.maxConcurrency}). Default: no limit. */
  declare readonly maxConcurrency?: number | undefined;

  /** Runs the request and returns its final state, usually `{ phase: Phase.SUCCEEDED, outputs }`. */
  abstract do(request: CreateRequest): Promise<Resource>;
}

/** Any connector the registry holds. */
export type Connector = AsyncConnector<ResourceMeta> | SyncConnector;
