// The three Snowflake SQL API v2 operations the connector uses (OpenAPI "Snowflake SQL API" 2.0.0,
// snowflakedb/snowflake-rest-api-specs specifications/sqlapi.yaml): submit, status, cancel. Every call is one
// stateless HTTPS request with a key-pair JWT: no session, no connection object to keep or leak.
import { createRequire } from "node:module";
import { HttpError, isTransient, parseRetryAfter, sendRequest, withRetries, type RetryOptions, type UrlPolicy } from "flyte-connectors/http";
import { forgetToken, keyPairToken, type KeyPairCredentials } from "./auth.js";
import type { SqlBinding } from "./statement.js";

const VERSION = (createRequire(import.meta.url)("../package.json") as { version: string }).version;
const USER_AGENT = `flyte-connectors-snowflake/${VERSION}`;
const MAX_ERROR_BODY = 4096;
/**
 * Most bytes of a reply the connector reads. The reply to GET of a finished query carries its first result partition
 * (megabytes), which the connector never uses: reading and parsing it all would cost memory and event-loop time.
 */
const MAX_REPLY_BYTES = 1 << 20;

/** The SQL API's QueryStatus / QueryFailureStatus / ResultSet / CancelStatus fields the connector reads. */
export interface StatementReply {
  code?: string;
  sqlState?: string;
  message?: string;
  statementHandle?: string;
  statementHandles?: string[];
  resultSetMetaData?: { numRows?: number };
  stats?: { numRowsInserted?: number; numRowsUpdated?: number; numRowsDeleted?: number };
}

/** An HTTP reply of the SQL API: its status and JSON body (`{}` when it had none or was not JSON). */
export interface ApiReply {
  status: number;
  body: StatementReply;
}

/** The body of POST /api/v2/statements. */
export interface SubmitBody {
  statement: string;
  database?: string;
  schema?: string;
  warehouse?: string;
  role?: string;
  timeout?: number;
  bindings?: Record<string, SqlBinding>;
  parameters?: Record<string, unknown>;
}

/** How the connector reaches Snowflake: base URL, credentials and fault handling. */
export interface ApiTarget {
  /** e.g. `https://myorg-myaccount.snowflakecomputing.com` */
  baseUrl: string;
  credentials: KeyPairCredentials;
  /** Deadline of each HTTP attempt in milliseconds. */
  attemptTimeout: number;
  retry: RetryOptions;
  /** Which origins may be called: checked again against the addresses a host name resolves to when connecting. */
  urlPolicy: UrlPolicy;
  signal: AbortSignal;
}

/** POST /api/v2/statements?async=true&requestId=…&retry=true: the same request id never runs the statement twice. */
export function submitStatement(target: ApiTarget, requestId: string, body: SubmitBody): Promise<ApiReply> {
  const query = new URLSearchParams({ async: "true", requestId, retry: "true" });
  return call(target, "POST", `/api/v2/statements?${query}`, body);
}

/** GET /api/v2/statements/{handle}: 200 done (first result partition), 202 running, 408/422 failed. */
export function statementStatus(target: ApiTarget, handle: string): Promise<ApiReply> {
  return call(target, "GET", `/api/v2/statements/${encodeURIComponent(handle)}`);
}

/** POST /api/v2/statements/{handle}/cancel. */
export function cancelStatement(target: ApiTarget, handle: string): Promise<ApiReply> {
  return call(target, "POST", `/api/v2/statements/${encodeURIComponent(handle)}/cancel`);
}

/**
 * One SQL API call with retries of transient faults (429, 5xx, resets, attempt timeouts; not 408, which the SQL
 * API uses for "the statement timed out"). 2xx, 4xx replies are returned with their status: the status itself is
 * the statement's state (200 vs 202). A 401 is retried once with a newly signed token.
 */
async function call(target: ApiTarget, method: string, path: string, body?: SubmitBody): Promise<ApiReply> {
  const once = async (): Promise<ApiReply> => {
    const headers: Record<string, string> = {
      accept: "application/json",
      authorization: `Bearer ${keyPairToken(target.credentials)}`,
      "x-snowflake-authorization-token-type": "KEYPAIR_JWT",
      "user-agent": USER_AGENT,
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    // flyte-connectors' sendRequest (undici): a fraction of fetch's CPU per poll; replies read up to MAX_REPLY_BYTES.
    const reply = await sendRequest({
      url: new URL(path, target.baseUrl),
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeout: target.attemptTimeout,
      signal: target.signal,
      maxResponseBytes: MAX_REPLY_BYTES,
      // Also: redirects are not followed (a 3xx is a reply the connector does not understand, not a new origin).
      urlPolicy: target.urlPolicy,
    });
    const text = reply.text;
    if (reply.status === 429 || reply.status >= 500) {
      // Thrown so withRetries backs off; the path has no query secrets, the body is Snowflake's.
      const retryAfter = reply.headers["retry-after"];
      throw new HttpError(reply.status, method, path.split("?")[0]!, (text ?? "").slice(0, MAX_ERROR_BODY), parseRetryAfter(typeof retryAfter === "string" ? retryAfter : null));
    }
    // An oversized reply is a finished query's result data: its status says all the connector needs.
    return { status: reply.status, body: text === undefined ? {} : parseBody(text) };
  };
  const retrying = () =>
    withRetries(once, {
      ...target.retry,
      signal: target.signal,
      shouldRetry: (error) => isTransient(error) && !(error instanceof HttpError && error.status === 408),
    });
  const reply = await retrying();
  if (reply.status !== 401) return reply;
  forgetToken(target.credentials);
  return retrying();
}

function parseBody(text: string): StatementReply {
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as StatementReply) : {};
  } catch {
    return { message: text.slice(0, 500) };
  }
}
