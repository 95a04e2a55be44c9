import { HttpError, parseRetryAfter, withRetries, type RetryOptions } from "./retry.js";
import { urlRefusal, type UrlPolicy } from "./url-policy.js";

/** One JSON call to an external REST API. */
export interface JsonRequest {
  /** Default: "GET", or "POST" when `body` is set. */
  method?: string;
  url: string | URL;
  /** Extra headers (e.g. `authorization`). `accept` and, with a body, `content-type` are JSON by default. */
  headers?: Readonly<Record<string, string>>;
  /** Sent as JSON. Default: no body. */
  body?: unknown;
  /** Deadline of each attempt in milliseconds. Default: 30 000. */
  timeout?: number;
  /** The call's cancellation (the connector's `signal`): stops the attempt in flight and the retries. */
  signal?: AbortSignal;
  /** Retries of transient faults; `false` for a single attempt. Default: {@link RetryOptions} defaults. */
  retry?: RetryOptions | false;
  /**
   * `"manual"`: a redirect is not followed but thrown as an {@link HttpError} with its 3xx status. Use it when
   * credentials travel in a header other than `authorization` (fetch keeps such headers on a redirect to another
   * origin) or when the caller restricts the origins it calls. Default: `"follow"`.
   */
  redirect?: "follow" | "manual";
  /**
   * Which URLs may be called (server-side request forgery guard): the URL is checked before the first attempt
   * and the addresses its host resolves to at connect time; a refusal is a {@link UrlRefusedError}
   * (INVALID_ARGUMENT, not retried). With a policy redirects are never followed (as `redirect: "manual"`).
   * Default: none (any URL).
   */
  urlPolicy?: UrlPolicy;
}

const MAX_ERROR_BODY = 4096;

/**
 * Sends a JSON request with Node's built-in `fetch` (one keep-alive connection pool per process, shared by all
 * calls) and returns the parsed JSON reply (`undefined` for an empty body). Non-2xx replies throw {@link HttpError};
 * transient faults (429, 5xx, resets, per-attempt timeouts) are retried with back-off, honouring `Retry-After`.
 */
export async function requestJson<T = unknown>(request: JsonRequest): Promise<T> {
  const { url, body, signal, timeout = 30_000, urlPolicy } = request;
  const redirect = urlPolicy ? "manual" : (request.redirect ?? "follow");
  const dispatcher = urlPolicy?.dispatcherFor(urlPolicy.check(url));
  const method = request.method ?? (body === undefined ? "GET" : "POST");
  const headers: Record<string, string> = { accept: "application/json", ...request.headers };
  if (body !== undefined) headers["content-type"] ??= "application/json";
  const path = new URL(url).pathname;
  const once = async (): Promise<T> => {
    const attemptSignal = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeout)]) : AbortSignal.timeout(timeout);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: attemptSignal,
        redirect,
        // Node's fetch takes an undici dispatcher (not in the DOM RequestInit type).
        ...(dispatcher ? ({ dispatcher } as object) : {}),
      });
    } catch (error) {
      throw urlRefusal(error) ?? error; // the policy's refusal at connect time, not a "fetch failed"
    }
    const text = await response.text();
    if (!response.ok) {
      throw new HttpError(response.status, method, path, text.slice(0, MAX_ERROR_BODY), parseRetryAfter(response.headers.get("retry-after")));
    }
    return (text ? JSON.parse(text) : undefined) as T;
  };
  if (request.retry === false) return once();
  return withRetries(once, { ...(signal ? { signal } : {}), ...request.retry });
}
