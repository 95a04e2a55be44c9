import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import OpenAI, { toFile } from "openai";
import {
  AsyncConnector,
  attemptToken,
  ConnectorError,
  ConnectorTask,
  FlyteFile,
  Phase,
  ResourceMeta,
  StorageError,
  types,
  type ConnectorTaskOptions,
  type CreateRequest,
  type Resource,
  type ResourceRequest,
  type TaskLogInit,
} from "flyte-connectors";
import { isTransient, pollTolerantly, withRetries } from "flyte-connectors/http";
import { call, openAIClient, requestOptions, resolveApiKey, statusOf, type OpenAIConnectionOptions } from "./client.js";

/** Task type of the Python `BatchEndpointTask` (flytekitplugins.openai). */
export const OPENAI_BATCH_TASK_TYPE = "openai-batch";
/** Batch metadata key holding the idempotency key of the Flyte attempt that created the batch. */
export const IDEMPOTENCY_METADATA_KEY = "flyte_idempotency_key";

/** Identity of a batch: the same fields as the Python `BatchEndpointMetadata` (which Python pickles; this is JSON). */
export class BatchEndpointMeta extends ResourceMeta.define({ openai_org: "string?", batch_id: "string" }) {
  /** Ids OpenAI could not have given create (outside their alphabet) are the caller's INVALID_ARGUMENT, found before any request. */
  override validate(): void {
    if (!/^[A-Za-z0-9_-]{1,256}$/.test(this.batch_id)) throw new Error(`batch_id ${JSON.stringify(this.batch_id.slice(0, 100))} is not an OpenAI batch id`);
    if (this.openai_org != null && !/^[A-Za-z0-9_-]{0,256}$/.test(this.openai_org)) throw new Error(`openai_org ${JSON.stringify(this.openai_org.slice(0, 100))} is not an OpenAI organization id`);
  }
}

/** Where the batch's requests come from: the task's single input. */
export type BatchInput = "file_id" | "requests" | "file";

const INPUTS = {
  /** An uploaded file's id (purpose "batch"), as Python's `BatchEndpointTask`. */
  file_id: { input_file_id: types.string },
  /** Requests inline: batch lines (`{custom_id, method, url, body}`) or bare request bodies. */
  requests: { requests: types.list(types.struct) },
  /** A JSONL File of batch lines (s3://, gs://, abfs://; a local path or file:// where local files are allowed). */
  file: { jsonl_in: types.file },
} as const;
const outputs = { result: types.struct };

/** `config` of the task: parameters of `POST /v1/batches` other than `input_file_id`. */
export type BatchConfig = {
  /** Default: "/v1/chat/completions" (as Python). */
  endpoint?: string;
  /** Default: "24h", the only window OpenAI offers. */
  completion_window?: string;
  /** Up to 15 string pairs; the connector adds a 16th, `flyte_idempotency_key` (OpenAI allows 16). */
  metadata?: Record<string, string>;
} & { [key: string]: JsonValue | undefined };

export interface BatchEndpointTaskOptions<K extends BatchInput>
  extends Pick<ConnectorTaskOptions<(typeof INPUTS)[K], typeof outputs>, "secrets" | "project" | "domain" | "version"> {
  name: string;
  /** Batch parameters. Default: `{}` (endpoint /v1/chat/completions, window 24h). */
  config?: BatchConfig;
  /** OpenAI organization (`OpenAI-Organization` header). Default: the key's default. */
  openaiOrganization?: string;
  /**
   * The task's input: `"file_id"` → `input_file_id: string` (Python's interface), `"requests"` → `requests:
   * object[]`, `"file"` → `jsonl_in: File` (read through the service's storage). Default: "file_id".
   */
  input?: K;
}

/**
 * A batch of OpenAI requests, run by {@link BatchEndpointConnector}; output `result` is the finished batch object
 * (with `output_file_id` and `error_file_id`). Writes the same `TaskTemplate.custom` as Python's
 * `BatchEndpointTask`: `{ openai_organization, config }`.
 *
 * ```ts
 * const batch = new BatchEndpointTask({ name: "embed", input: "requests", config: { endpoint: "/v1/embeddings" } });
 * const { result } = await runTask(batch, { requests: [{ model: "text-embedding-3-small", input: "hi" }] }, { registry });
 * ```
 */
export class BatchEndpointTask<K extends BatchInput = "file_id"> extends ConnectorTask<(typeof INPUTS)[K], typeof outputs> {
  static readonly TASK_TYPE = OPENAI_BATCH_TASK_TYPE;
  readonly config: BatchConfig;
  readonly openaiOrganization: string | undefined;

  constructor({ config, openaiOrganization, input, ...options }: BatchEndpointTaskOptions<K>) {
    const kind = (input ?? "file_id") as K;
    if (!Object.hasOwn(INPUTS, kind)) throw new TypeError(`BatchEndpointTask input must be one of ${Object.keys(INPUTS).join(", ")}, got ${String(kind)}.`);
    super({ ...options, taskType: OPENAI_BATCH_TASK_TYPE, inputs: INPUTS[kind] as (typeof INPUTS)[K], outputs });
    // Plain JSON (no undefined fields), as it goes into the template's Struct.
    this.config = JSON.parse(JSON.stringify(config ?? {})) as BatchConfig;
    this.openaiOrganization = openaiOrganization;
  }

  protected override customConfig(): JsonObject {
    return { openai_organization: this.openaiOrganization ?? null, config: this.config as JsonObject };
  }
}

/** Batch statuses of the OpenAI API reference and the phase each maps to (Python maps the same, bar validating). */
const PHASES: Readonly<Record<OpenAI.Batch["status"], Phase>> = {
  validating: Phase.INITIALIZING,
  in_progress: Phase.RUNNING,
  finalizing: Phase.RUNNING,
  completed: Phase.SUCCEEDED,
  failed: Phase.FAILED,
  expired: Phase.FAILED,
  cancelling: Phase.FAILED,
  cancelled: Phase.FAILED,
};
/** Statuses after which a batch can no longer be cancelled (or needs no cancel). */
const FINISHED = new Set(["completed", "failed", "expired", "cancelling", "cancelled"]);

/** Batches looked at when checking whether an attempt already created its batch (newest first). */
const RECENT_BATCHES = 100;

/**
 * Async connector for task type `openai-batch` (OpenAI Batch API): create uploads the requests when given inline
 * (or takes `input_file_id`) and creates the batch, at most once per task attempt; get maps the batch status to a
 * phase; delete cancels the batch (OK when it is finished or unknown).
 */
export class BatchEndpointConnector extends AsyncConnector<BatchEndpointMeta> {
  readonly name = "OpenAI Batch Endpoint Connector";
  readonly taskTypeName = OPENAI_BATCH_TASK_TYPE;
  readonly metadataType = BatchEndpointMeta;
  override readonly outputTypes = outputs;
  readonly #options: OpenAIConnectionOptions;

  constructor(options: OpenAIConnectionOptions = {}) {
    super();
    this.#options = { ...options };
  }

  async create(request: CreateRequest): Promise<BatchEndpointMeta> {
    const { custom, signal } = request;
    const organization = optionalString(custom["openai_organization"], "openai_organization");
    const params = batchParams(custom["config"]);
    const key = attemptToken(request);
    const client = await this.#client(request);
    const options = requestOptions(signal, organization);
    const meta = (batch: { id: string }) => new BatchEndpointMeta({ openai_org: organization ?? null, batch_id: batch.id });

    // A retried CreateTask of the same attempt finds the batch the first one created.
    const existing = key ? await findBatch(client, key, options) : undefined;
    if (existing) return meta(existing);

    const { id: inputFileId, uploaded } = await this.#inputFile(client, request, params.endpoint, options);
    const body = {
      ...params,
      input_file_id: inputFileId,
      ...(key ? { metadata: { ...params.metadata, [IDEMPOTENCY_METADATA_KEY]: key } } : {}),
    } as OpenAI.BatchCreateParams;
    // Idempotency-Key: not documented by OpenAI (harmless there), honoured by gateways that support it.
    const createOptions = key ? requestOptions(signal, organization, { "Idempotency-Key": key }) : options;
    // No client retry of this POST: an attempt whose reply was lost may have created the batch, so every
    // retry first looks for it.
    let batch: { id: string };
    try {
      batch = await withRetries(
        async (attempt) => {
          if (attempt > 0 && key) {
            const created = await findBatch(client, key, options);
            if (created) return created;
          }
          return call("creating the batch", () => client.batches.create(body, { ...createOptions, maxRetries: 0 }));
        },
        // Without a key a lost reply cannot be found again: then only a 429 (not processed) is retried.
        { signal, shouldRetry: key ? isTransient : (error) => statusOf(error) === 429, retries: this.#options.maxRetries ?? 3 },
      );
    } catch (error) {
      // Definitely refused (not a fault after which the batch may exist): the file we uploaded serves nothing.
      if (uploaded && !isTransient(error) && !signal.aborted) {
        await client.files.delete(inputFileId, { ...options, maxRetries: 0 }).catch(() => {});
      }
      throw error;
    }
    return meta(batch);
  }

  async get(request: ResourceRequest<BatchEndpointMeta>): Promise<Resource> {
    const { resourceMeta, signal } = request;
    const logLinks = this.#logLinks(resourceMeta.batch_id);
    const budget = this.#options.pollBudget !== undefined ? { budget: this.#options.pollBudget } : {};
    const resource = await pollTolerantly(`${OPENAI_BATCH_TASK_TYPE}:${resourceMeta.batch_id}`, async (pollSignal) => {
      const client = await this.#client(request);
      let batch: OpenAI.Batch;
      try {
        batch = await call("reading the batch", () => client.batches.retrieve(resourceMeta.batch_id, requestOptions(pollSignal, resourceMeta.openai_org)));
      } catch (error) {
        if (statusOf(error) === 404) return { phase: Phase.FAILED, message: `Batch ${resourceMeta.batch_id} does not exist (anymore).` };
        throw error;
      }
      return batchResource(batch);
    }, { signal, ...budget });
    return { ...resource, ...(logLinks.length ? { logLinks } : {}) };
  }

  async delete(request: ResourceRequest<BatchEndpointMeta>): Promise<void> {
    const { resourceMeta, signal } = request;
    const client = await this.#client(request);
    const options = requestOptions(signal, resourceMeta.openai_org);
    try {
      await call("cancelling the batch", () => client.batches.cancel(resourceMeta.batch_id, options));
    } catch (error) {
      if (unreachable(error)) return;
      const status = statusOf(error);
      // OpenAI refuses to cancel a finished batch: fine, if it is indeed finished.
      if (status === 400 || status === 409) {
        let batch: OpenAI.Batch;
        try {
          batch = await call("reading the batch", () => client.batches.retrieve(resourceMeta.batch_id, options));
        } catch (readError) {
          if (unreachable(readError)) return;
          throw readError;
        }
        if (FINISHED.has(batch.status)) return;
      }
      throw error;
    }
  }

  async #client(request: CreateRequest | ResourceRequest<BatchEndpointMeta>): Promise<OpenAI> {
    return openAIClient(await resolveApiKey(request, this.#options), this.#options);
  }

  /** The batch's page in the OpenAI dashboard, when the connector talks to OpenAI itself. */
  #logLinks(batchId: string): TaskLogInit[] {
    const base = this.#options.baseURL ?? process.env["OPENAI_BASE_URL"];
    if (base && !/^https:\/\/api\.openai\.com(\/|$)/.test(base)) return [];
    return [{ name: "OpenAI Batch", uri: `https://platform.openai.com/batches/${encodeURIComponent(batchId)}` }];
  }

  /** The id of the file holding the batch's requests: the `input_file_id` input, or an upload of the others. */
  async #inputFile(client: OpenAI, request: CreateRequest, endpoint: string, options: OpenAI.RequestOptions): Promise<{ id: string; uploaded: boolean }> {
    const { inputs } = request;
    if (inputs["input_file_id"] !== undefined) {
      const id = inputs["input_file_id"];
      if (typeof id !== "string" || !id) throw new ConnectorError("INVALID_ARGUMENT", "input_file_id must be a non-empty string.");
      return { id, uploaded: false };
    }
    let jsonl: string;
    if (inputs["requests"] !== undefined) {
      jsonl = requestsToJsonl(inputs["requests"], endpoint);
    } else if (inputs["jsonl_in"] !== undefined) {
      jsonl = await readJsonlFile(inputs["jsonl_in"], request.signal);
    } else {
      throw new ConnectorError("INVALID_ARGUMENT", "The task needs one input: input_file_id (a file id), requests (a list) or jsonl_in (a JSONL File).");
    }
    const file = await call("uploading the batch input", async () =>
      client.files.create({ file: await toFile(Buffer.from(jsonl, "utf8"), "flyte-batch-input.jsonl", { type: "application/jsonl" }), purpose: "batch" }, options),
    );
    return { id: file.id, uploaded: true };
  }
}

/**
 * A batch these credentials cannot reach: gone or never created (404), or the key is no longer valid for it (401,
 * 403). Nothing can be cancelled then, and an error would block the task's finalizer forever (the backend retries a
 * failed delete every 10 s, also when it garbage-collects finished tasks, possibly after a key rotation); a batch
 * ends by itself within its completion window.
 */
function unreachable(error: unknown): boolean {
  const status = statusOf(error);
  return status === 404 || status === 401 || status === 403;
}

/** The Resource of a batch as OpenAI reports it. */
function batchResource(batch: OpenAI.Batch): Resource {
  const phase = PHASES[batch.status];
  const counts = batch.request_counts ? `${batch.request_counts.completed}/${batch.request_counts.total} requests done, ${batch.request_counts.failed} failed` : "";
  if (phase === undefined) {
    return { phase: Phase.RUNNING, message: `Batch ${batch.id} is in a status this connector does not know: ${String(batch.status)}; still waiting.` };
  }
  switch (batch.status) {
    case "completed":
      return { phase, message: counts || "completed", outputs: { result: batch as unknown as Record<string, unknown> } };
    case "failed": {
      const errors = (batch.errors?.data ?? [])
        .slice(0, 3)
        .map((e) => `${e.message ?? e.code ?? "error"}${e.line !== undefined && e.line !== null ? ` (line ${e.line})` : ""}`);
      return { phase, message: errors.length ? errors.join("; ") : `Batch ${batch.id} failed.` };
    }
    case "expired":
      return {
        phase,
        message: `Batch ${batch.id} expired before finishing (${batch.completion_window} window)${counts ? `: ${counts}` : ""}${batch.output_file_id ? `; partial results in ${batch.output_file_id}` : ""}.`,
      };
    case "cancelling":
    case "cancelled":
      return { phase, message: `Batch ${batch.id} was cancelled${batch.status === "cancelling" ? " (cancelling)" : ""}.` };
    default:
      return { phase, message: `${batch.status}${counts ? `: ${counts}` : ""}` };
  }
}

/** `custom.config` as batch parameters, with Python's defaults (endpoint /v1/chat/completions, window 24h). */
function batchParams(config: JsonValue | undefined): { endpoint: string; completion_window: string; metadata?: Record<string, string> } & JsonObject {
  if (config !== undefined && config !== null && (typeof config !== "object" || Array.isArray(config))) {
    throw new ConnectorError("INVALID_ARGUMENT", "The task's custom config must be an object.");
  }
  const params: JsonObject = { completion_window: "24h", endpoint: "/v1/chat/completions", ...(config ?? {}) };
  if (typeof params["endpoint"] !== "string") throw new ConnectorError("INVALID_ARGUMENT", "config.endpoint must be a string.");
  if (typeof params["completion_window"] !== "string") throw new ConnectorError("INVALID_ARGUMENT", "config.completion_window must be a string.");
  if ("input_file_id" in params) throw new ConnectorError("INVALID_ARGUMENT", "config.input_file_id is not allowed: pass the file id as the task's input.");
  const metadata = params["metadata"];
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== "object" || Array.isArray(metadata) || Object.values(metadata).some((v) => typeof v !== "string")) {
      throw new ConnectorError("INVALID_ARGUMENT", "config.metadata must map names to strings.");
    }
    // OpenAI allows 16 pairs; one is ours.
    if (Object.keys(metadata).length > 15) throw new ConnectorError("INVALID_ARGUMENT", "config.metadata may have at most 15 entries (the connector adds one).");
  } else {
    delete params["metadata"];
  }
  return params as ReturnType<typeof batchParams>;
}

/** The batch among the most recent ones whose metadata carries `key`. */
async function findBatch(client: OpenAI, key: string, options: OpenAI.RequestOptions): Promise<OpenAI.Batch | undefined> {
  const page = await call("listing recent batches", () => client.batches.list({ limit: RECENT_BATCHES }, options));
  return page.data.find((batch) => batch.metadata?.[IDEMPOTENCY_METADATA_KEY] === key);
}

/** Inline requests as Batch API JSONL: full lines pass as they are; a bare body becomes a POST to `endpoint`. */
function requestsToJsonl(requests: unknown, endpoint: string): string {
  if (!Array.isArray(requests) || requests.length === 0) throw new ConnectorError("INVALID_ARGUMENT", "requests must be a non-empty list of objects.");
  return requests
    .map((item: unknown, index) => {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw new ConnectorError("INVALID_ARGUMENT", `requests[${index}] must be an object.`);
      }
      const line = "body" in item && "custom_id" in item ? { method: "POST", url: endpoint, ...item } : { custom_id: `request-${index}`, method: "POST", url: endpoint, body: item };
      return JSON.stringify(line, (_key, value: unknown) => (typeof value === "bigint" ? Number(value) : value));
    })
    .join("\n")
    .concat("\n");
}

/**
 * The text of the JSONL File input, read through the service's storage (s3://, gs://, abfs://; local paths and
 * file:// only where local files are allowed: `run`, or `serve --allow-local-files`).
 */
async function readJsonlFile(value: unknown, signal: AbortSignal): Promise<string> {
  if (!(value instanceof FlyteFile)) throw new ConnectorError("INVALID_ARGUMENT", "jsonl_in must be a file.");
  try {
    return await value.text({ signal });
  } catch (cause) {
    if (!(cause instanceof StorageError)) throw cause;
    // A file that is not there (or may not be read from here) is the caller's; refused credentials or an
    // unreachable store keep their own status.
    const code = cause.problem === "not-found" || cause.problem === "invalid" ? "INVALID_ARGUMENT" : cause.code;
    throw new ConnectorError(code, `Cannot read jsonl_in: ${cause.message}`, { cause });
  }
}

function optionalString(value: JsonValue | undefined, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new ConnectorError("INVALID_ARGUMENT", `${name} must be a string.`);
  return value || undefined;
}
