import { setTimeout as sleep } from "node:timers/promises";
import { ConnectorError, type StatusName } from "../errors.js";

/** How a call to an external API is retried. */
export interface RetryOptions {
  /** Retries after the first attempt. Default: 3. */
  retries?: number;
  /** Upper bound of the first back-off in milliseconds; doubles per retry ("full jitter"). Default: 250. */
  minDelay?: number;
  /** Longest single wait in milliseconds, also the cap of a server's Retry-After. Default: 8000. */
  maxDelay?: number;
  /** Stops retrying (and waiting) when it fires: the caller's deadline or cancellation. Default: none. */
  signal?: AbortSignal;
  /** Which failures are worth another attempt. Default: {@link isTransient}. */
  shouldRetry?: (error: unknown) => boolean;
}

/** An HTTP reply with a non-2xx status. `message` names the method, path and status only (never the query or headers). */
export class HttpError extends Error {
  readonly status: number;
  /** The start of the response body (at most 4 KiB), for parsing the vendor's error message. */
  readonly body: string;
  /** Delay the server asked for (`Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, method: string, path: string, body: string, retryAfterMs?: number) {
    super(`HTTP ${status} from ${method} ${path}`);
    this.status = status;
    this.body = body;
    this.retryAfterMs = retryAfterMs;
  }

  override get name(): string {
    return "HttpError";
  }
}

/** HTTP statuses that say "try again later" rather than "this request is wrong". */
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * The gRPC status for an external API's HTTP error reply, one rule for every connector: transient statuses
 * (408, 425, 429, 500, 502, 503, 504) → UNAVAILABLE; 400 and 422 (the request is wrong) → INVALID_ARGUMENT;
 * 404 and 410 → NOT_FOUND; 409 → ALREADY_EXISTS; other 5xx → INTERNAL; 401, 403 and other refusals →
 * FAILED_PRECONDITION (credentials or permissions must change first; StatusName has no PERMISSION_DENIED).
 */
export function statusNameForHttp(status: number): StatusName {
  if (TRANSIENT_STATUSES.has(status)) return "UNAVAILABLE";
  if (status === 400 || status === 422) return "INVALID_ARGUMENT";
  if (status === 404 || status === 410) return "NOT_FOUND";
  if (status === 409) return "ALREADY_EXISTS";
  if (status >= 500) return "INTERNAL";
  return "FAILED_PRECONDITION";
}

/** Socket and undici error codes of a connection that failed or broke off. */
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/**
 * True for failures another attempt may cure: 408/425/429/5xx replies (not 501), broken or refused connections,
 * and a per-attempt timeout (`TimeoutError`). A caller's cancellation (`AbortError`) is not transient.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof HttpError) return TRANSIENT_STATUSES.has(error.status);
  if (error instanceof ConnectorError) return error.code === "UNAVAILABLE";
  if ((error as { name?: unknown } | null)?.name === "TimeoutError") return true;
  const code = errorCode(error);
  return code !== undefined && TRANSIENT_CODES.has(code);
}

/**
 * A caller-safe one-line description of an external API failure: the HTTP status and path, the socket error code,
 * or the timeout. Never the request's URL query, headers or body, where credentials live.
 */
export function describeFault(error: unknown): string {
  if (error instanceof HttpError || error instanceof ConnectorError) return error.message;
  if ((error as { name?: unknown } | null)?.name === "TimeoutError") return "the request timed out";
  const code = errorCode(error);
  return code ? `connection failed (${code})` : "the request failed";
}

/**
 * Runs `attempt` until it succeeds, a failure is not retryable, the retries are used up or `signal` fires.
 * Waits are exponential with full jitter, or the server's `Retry-After` (capped at `maxDelay`). The last error is
 * rethrown as is; a fired signal rethrows the signal's reason.
 */
export async function withRetries<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { retries = 3, minDelay = 250, maxDelay = 8000, signal, shouldRetry = isTransient } = options;
  for (let n = 0; ; n++) {
    signal?.throwIfAborted();
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= retries || signal?.aborted || !shouldRetry(error)) throw error;
      // Any error may carry the server's wish (`retryAfterMs`), e.g. one a vendor client's error was mapped to.
      const wish = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
      const retryAfter = typeof wish === "number" && wish >= 0 ? wish : undefined;
      const delay = retryAfter !== undefined ? Math.min(retryAfter, maxDelay) : Math.random() * Math.min(maxDelay, minDelay * 2 ** n);
      await sleep(delay, undefined, signal ? { signal } : {}).catch(() => signal?.throwIfAborted());
    }
  }
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
