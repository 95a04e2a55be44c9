// How failures of BigQuery API calls (made through @google-cloud/bigquery) are classified, retried and reported.
import { ConnectorError } from "flyte-connectors";
import { describeFault, isTransient, statusNameForHttp, withRetries, type RetryOptions } from "flyte-connectors/http";

/** The fields of @google-cloud/common's ApiError that we read (duck-typed: that package is not our dependency). */
interface ApiErrorLike {
  code: number;
  message: string;
  errors?: Array<{ reason?: string; message?: string }>;
}

/** An HTTP error reply of the BigQuery API, as the client library reports it. */
export function apiError(error: unknown): ApiErrorLike | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" && code >= 400 ? (error as ApiErrorLike) : undefined;
}

export function httpStatus(error: unknown): number | undefined {
  return apiError(error)?.code;
}

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
/**
 * Error reasons BigQuery documents as "retry" (https://cloud.google.com/bigquery/docs/error-messages); it answers some
 * of them with 403 (rateLimitExceeded), so the status alone is not enough.
 */
const TRANSIENT_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"]);

/** True for a BigQuery reply or network fault another attempt may cure. */
export function isRetryable(error: unknown): boolean {
  const api = apiError(error);
  if (api) return TRANSIENT_STATUSES.has(api.code) || (api.errors ?? []).some((e) => TRANSIENT_REASONS.has(e.reason ?? ""));
  // Network faults (ECONNRESET, ECONNREFUSED, …) and our per-attempt timeout; also node-fetch's own timeout.
  return isTransient(error) || (error as { type?: unknown } | null)?.type === "request-timeout";
}

/** Rejects with the signal's reason when it fires first; the request itself runs on (the library takes no signal). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
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

export interface CallOptions {
  /** The connector call's signal (deadline or cancellation). */
  signal: AbortSignal;
  /** Deadline of one attempt in milliseconds. */
  attemptTimeout: number;
  retry: Omit<RetryOptions, "signal" | "shouldRetry">;
  /** Text that must never appear in an error message (parts of the credentials). */
  secrets: readonly string[];
}

/**
 * Runs one BigQuery API call with retries of transient faults (the library's own retries are switched off, so this
 * is the only retry loop: jittered back-off, bounded by the call's signal). Failures come out as ConnectorErrors:
 * a transient fault that outlived the retries as UNAVAILABLE (so `pollTolerantly` treats it as transient), a fired
 * signal as DEADLINE_EXCEEDED/CANCELLED, other replies with a code matching the HTTP status. `keep` lets an error
 * through unchanged (e.g. 404 or 409, which the caller handles).
 */
export async function callBigQuery<T>(operation: string, options: CallOptions, attempt: () => Promise<T>, keep?: (error: unknown) => boolean): Promise<T> {
  const { signal, attemptTimeout } = options;
  try {
    return await withRetries(() => abortable(attempt(), AbortSignal.any([signal, AbortSignal.timeout(attemptTimeout)])), {
      ...options.retry,
      signal,
      shouldRetry: isRetryable,
    });
  } catch (error) {
    if (signal.aborted) throw ConnectorError.fromAbort(signal, `BigQuery ${operation}`);
    if (keep?.(error)) throw error;
    throw toConnectorError(operation, error, options.secrets);
  }
}

/** A caller-safe ConnectorError for a failed BigQuery call: the vendor's message, never credentials. */
export function toConnectorError(operation: string, error: unknown, secrets: readonly string[]): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const api = apiError(error);
  if (api) {
    const code = isRetryable(error) ? "UNAVAILABLE" : statusNameForHttp(api.code);
    return new ConnectorError(code, redact(`BigQuery ${operation} failed (HTTP ${api.code}): ${api.message}`, secrets), { cause: error });
  }
  if (isRetryable(error)) {
    return new ConnectorError("UNAVAILABLE", `BigQuery ${operation} failed: ${describeFault(error)}`, { cause: error });
  }
  // Anything else (e.g. google-auth-library refusing the key): its message, without key material.
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectorError("FAILED_PRECONDITION", redact(`BigQuery ${operation} failed: ${message}`, secrets).slice(0, 2000), { cause: error });
}

export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length >= 8).reduce((out, secret) => out.split(secret).join("*****"), text);
}
