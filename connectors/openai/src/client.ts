// The OpenAI client the connectors share: one `openai` client per (API key, base URL) per process, the API key
// looked up as the Python connectors do, and OpenAI errors turned into caller-safe ConnectorErrors.
import { createHash } from "node:crypto";
import OpenAI from "openai";
import { ConnectorError, connectorSecret, connectorSecretPath, type CallContext } from "flyte-connectors";
import { HttpError, isTransient } from "flyte-connectors/http";

/** Connection options shared by the OpenAI connectors. */
export interface OpenAIConnectionOptions {
  /**
   * Base URL of the OpenAI REST API (an OpenAI-compatible gateway, or a local fake in tests). Set by the operator
   * only: a task cannot choose where the API key is sent. Default: the `openai` client's default, i.e. the
   * `OPENAI_BASE_URL` environment variable or `https://api.openai.com/v1`.
   */
  baseURL?: string;
  /**
   * API key used when the task passes none in its secrets (`openai_api_key`). Default: the connector deployment's
   * secret `FLYTE_OPENAI_API_KEY`, read as the Python connectors read it (see {@link resolveApiKey}).
   */
  apiKey?: string;
  /**
   * Deadline of one HTTP attempt in milliseconds; the gRPC call's own deadline always applies on top. Default: 60 000.
   */
  timeout?: number;
  /** Retries of a transient fault (408, 425, 429, 500, 502, 503, 504, broken connections, timeouts) within one call. Default: 3. */
  maxRetries?: number;  /**
   * Batch only: longest a status poll (`get`) waits for OpenAI, in milliseconds, before answering the last known
   * phase; keep it below the backend's per-call timeout (10 s by default). Default: `pollTolerantly`'s (8000).
   */
  pollBudget?: number;
}

/** Name under which a task passes the API key in `custom.secrets` (→ `connection.secrets`). */
export const API_KEY_SECRET = "openai_api_key";
/** The connector deployment's secret the Python connectors read (`get_connector_secret("FLYTE_OPENAI_API_KEY")`). */
export const CONNECTOR_SECRET_NAME = "FLYTE_OPENAI_API_KEY";

/** Longest wait between two attempts, also the cap of a server's Retry-After (as `flyte-connectors/http`). */
const MAX_RETRY_DELAY_MS = 8000;
/** Most clients kept per process; the least recently used is dropped first. */
const MAX_CLIENTS = 64;
const clients = new Map<string, OpenAI>();
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * The API key for a call: the task's secret `openai_api_key` when present; else the connector's `apiKey` option;
 * else the connector deployment's secret, looked up like flytekit's `SecretsManager.get(key="FLYTE_OPENAI_API_KEY")`:
 * environment variable `_FSEC_FLYTE_OPENAI_API_KEY`, then `FLYTE_OPENAI_API_KEY`, then the file
 * `$FLYTE_SECRETS_DEFAULT_DIR/flyte_openai_api_key` (default directory `/etc/secrets`).
 * @throws ConnectorError FAILED_PRECONDITION when none is set.
 */
export async function resolveApiKey(context: CallContext, options: OpenAIConnectionOptions): Promise<string> {
  const fromTask = context.secrets[API_KEY_SECRET];
  if (fromTask) return fromTask;
  if (options.apiKey) return options.apiKey;
  const fromDeployment = await connectorSecret(CONNECTOR_SECRET_NAME);
  if (fromDeployment) return fromDeployment;
  throw new ConnectorError(
    "FAILED_PRECONDITION",
    `No OpenAI API key: pass one as the task secret "${API_KEY_SECRET}", or give the connector service ` +
      `${CONNECTOR_SECRET_NAME} (environment variable or ${connectorSecretPath(CONNECTOR_SECRET_NAME)}).`,
  );
}

/** The process's client for an API key and base URL (created on first use, kept in a bounded LRU map). */
export function openAIClient(apiKey: string, options: OpenAIConnectionOptions): OpenAI {
  const baseURL = options.baseURL ?? "";
  const timeout = options.timeout ?? 60_000;
  const maxRetries = options.maxRetries ?? 3;
  // Hash the key: the map's keys show up in heap snapshots and debuggers, the key itself must not.
  const cacheKey = createHash("sha256").update(`${apiKey}\0${baseURL}\0${timeout}\0${maxRetries}`).digest("hex");
  let client = clients.get(cacheKey);
  if (client) {
    clients.delete(cacheKey); // re-insert: most recently used last
  } else {
    client = new OpenAI({
      apiKey,
      ...(options.baseURL ? { baseURL: options.baseURL } : {}),
      // Per request (header), so one client serves every organization of a key; null keeps OPENAI_ORG_ID and
      // OPENAI_PROJECT_ID of the service's environment out of the tasks' requests.
      organization: null,
      project: null,
      timeout,
      maxRetries,
      fetch: retryConsistentFetch,
      // The client's own logging would print request details; the service logs through its own logger.
      logLevel: "off",
    });
    if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value as string);
  }
  clients.set(cacheKey, client);
  return client;
}

/**
 * Node's fetch, with replies adjusted so the `openai` client retries exactly what `flyte-connectors/http` retries:
 * the client retries 408, 409, 429 and every 5xx, honouring `Retry-After` without bound; this sets `x-should-retry`
 * (which the client obeys) from `isTransient` (408, 425, 429, 500, 502, 503, 504; not a 429 `insufficient_quota`)
 * unless the server set it, and caps
 * `Retry-After`/`retry-after-ms` at 8 s so a call never sleeps past any sensible deadline.
 */
async function retryConsistentFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  // Statuses that cannot carry a body cannot be rebuilt below (and are no errors worth adjusting).
  if (response.ok || NULL_BODY_STATUSES.has(response.status)) return response;
  const headers = new Headers(response.headers);
  let body: ReadableStream<Uint8Array> | string | null = response.body;
  if (!headers.has("x-should-retry")) {
    let retry = isTransient(new HttpError(response.status, "", "", ""));
    if (response.status === 429) {
      // A 429 for an exhausted quota (not a rate limit) will not pass by waiting.
      body = await response.text();
      if (/"code"\s*:\s*"insufficient_quota"/.test(body)) retry = false;
    }
    headers.set("x-should-retry", String(retry));
  }
  const retryAfterMs = Number(headers.get("retry-after-ms") ?? NaN);
  const retryAfterS = Number(headers.get("retry-after") ?? NaN);
  if (Number.isFinite(retryAfterMs)) headers.set("retry-after-ms", String(Math.min(Math.max(retryAfterMs, 0), MAX_RETRY_DELAY_MS)));
  else if (headers.has("retry-after")) {
    // Seconds or an HTTP date; either way the client then waits at most the cap.
    const seconds = Number.isFinite(retryAfterS) ? retryAfterS : (Date.parse(headers.get("retry-after")!) - Date.now()) / 1000;
    headers.set("retry-after-ms", String(Math.min(Math.max(Number.isFinite(seconds) ? seconds * 1000 : 0, 0), MAX_RETRY_DELAY_MS)));
  }
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** Request options of one call: the caller's signal, and the organization header when the task names one. */
export function requestOptions(signal: AbortSignal, organization: string | null | undefined, headers: Record<string, string> = {}): OpenAI.RequestOptions {
  const all = { ...headers, ...(organization ? { "OpenAI-Organization": organization } : {}) };
  return { signal, ...(Object.keys(all).length ? { headers: all } : {}) };
}

/** Text that looks like an OpenAI key (`sk-…`, also masked as OpenAI echoes it in 401 messages). */
const KEY_LIKE = /\bsk-[A-Za-z0-9_*.\-]{3,}/g;

/** Removes key-like text from an error kept as a cause, which the service may log. */
function scrub(error: Error): void {
  error.message = error.message.replace(KEY_LIKE, "sk-*****");
  if (error.stack) error.stack = error.stack.replace(KEY_LIKE, "sk-*****");
}

/** OpenAI's message with anything key-like removed, cut to a readable length. */
function safeMessage(error: InstanceType<typeof OpenAI.APIError>): string {
  const raw = (error.error as { message?: unknown } | undefined)?.message;
  const text = typeof raw === "string" && raw ? raw : error.message;
  return text.replace(KEY_LIKE, "sk-*****").slice(0, 2000);
}

/**
 * An error of the `openai` client (after its retries) as a caller-safe ConnectorError:
 * 401 → FAILED_PRECONDITION (no text from OpenAI: its 401 message echoes part of the key);
 * 403 and 429 `insufficient_quota` → FAILED_PRECONDITION with OpenAI's message;
 * other 4xx (bad request, content policy, unknown model) → INVALID_ARGUMENT with OpenAI's message;
 * 429, 408, 425, 500, 502-504, connection failures and timeouts → UNAVAILABLE (transient for `withRetries`/`pollTolerantly`).
 * Anything else (a cancelled call, a bug) is returned as is.
 */
export function toConnectorError(error: unknown, during: string): unknown {
  if (error instanceof OpenAI.APIUserAbortError || error instanceof ConnectorError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new ConnectorError("UNAVAILABLE", `OpenAI did not answer in time (${during}).`, { cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new ConnectorError("UNAVAILABLE", `Cannot reach the OpenAI API (${during}).`, { cause: error });
  }
  if (!(error instanceof OpenAI.APIError) || error.status === undefined) return error;
  scrub(error);
  const { status } = error;
  const code = typeof error.code === "string" ? ` [${error.code}]` : "";
  if (status === 401) {
    return new ConnectorError(
      "FAILED_PRECONDITION",
      `OpenAI rejected the API key (HTTP 401${code}) during ${during}: check the task secret "${API_KEY_SECRET}" or the connector's ${CONNECTOR_SECRET_NAME}.`,
      { cause: error },
    );
  }
  if (status === 403 || (status === 429 && error.code === "insufficient_quota")) {
    return new ConnectorError("FAILED_PRECONDITION", `OpenAI refused ${during} (HTTP ${status}${code}): ${safeMessage(error)}`, { cause: error });
  }
  if (isTransient(new HttpError(status, "", "", ""))) {
    return new ConnectorError("UNAVAILABLE", `OpenAI is unavailable (HTTP ${status}${code}) during ${during}: ${safeMessage(error)}`, { cause: error });
  }
  if (status >= 500) {
    return new ConnectorError("INTERNAL", `OpenAI failed ${during} (HTTP ${status}${code}): ${safeMessage(error)}`, { cause: error });
  }
  return new ConnectorError("INVALID_ARGUMENT", `OpenAI rejected ${during} (HTTP ${status}${code}): ${safeMessage(error)}`, { cause: error });
}

/** Runs one OpenAI call, turning its errors into ConnectorErrors ({@link toConnectorError}). */
export async function call<T>(during: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toConnectorError(error, during);
  }
}

/** The HTTP status of an OpenAI client error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const cause = error instanceof ConnectorError ? error.cause : error;
  return cause instanceof OpenAI.APIError ? cause.status : undefined;
}
