import { promisify } from "node:util";
import zlib from "node:zlib";
import { getGlobalDispatcher, type Dispatcher } from "undici";
import { ConnectorError } from "../errors.js";
import { HttpError, parseRetryAfter, withRetries, type RetryOptions } from "./retry.js";
import { urlRefusal, type UrlPolicy } from "./url-policy.js";

/** One JSON call to an external REST API. */
export interface JsonRequest {
  /** Default: "GET", or "POST" when `body` is set. */
  method?: string;
  url: string | URL;
  /**
   * Extra headers (e.g. `authorization`), names in any case. `accept` and, with a body, `content-type` are JSON by
   * default; `user-agent` is `flyte-connectors` by default.
   */
  headers?: Readonly<Record<string, string>>;
  /** Sent as JSON. Default: no body. */
  body?: unknown;
  /** Deadline of each attempt in milliseconds (connecting, sending and reading the whole reply). Default: 30 000. */
  timeout?: number;
  /** The call's cancellation (the connector's `signal`): stops the attempt in flight and the retries. */
  signal?: AbortSignal;
  /** Retries of transient faults; `false` for a single attempt. Default: {@link RetryOptions} defaults. */
  retry?: RetryOptions | false;
  /**
   * `"manual"`: a redirect is not followed but thrown as an {@link HttpError} with its 3xx status. Use it when
   * credentials travel in a header other than `authorization` (a followed redirect to another origin drops only
   * `authorization`, `proxy-authorization` and `cookie`, as fetch does) or when the caller restricts the origins it
   * calls. Default: `"follow"` (at most 20 redirects; 303, and 301/302 after a POST, continue as a GET without body).
   */
  redirect?: "follow" | "manual";
  /**
   * Which URLs may be called (server-side request forgery guard): the URL is checked before the first attempt
   * and the addresses its host resolves to at connect time; a refusal is a {@link UrlRefusedError}
   * (INVALID_ARGUMENT, not retried). With a policy redirects are never followed (as `redirect: "manual"`).
   * Default: none (any URL).
   */
  urlPolicy?: UrlPolicy;
  /**
   * Largest reply body accepted, in bytes (after decompression when the server compressed it); a larger reply is
   * an INTERNAL {@link ConnectorError} naming the method and path, not retried. Default: 16 MiB.
   */
  maxResponseBytes?: number;
}

const MAX_ERROR_BODY = 4096;
const MAX_REDIRECTS = 20; // fetch's limit
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const USER_AGENT = "flyte-connectors";

const decoders: Record<string, (data: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  "x-gzip": promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  br: promisify(zlib.brotliDecompress),
};

/** Thrown when a reply exceeds its size cap. */
class TooLarge extends Error {}

/** The whole body, or TooLarge once more than `max` bytes arrived (the connection is then closed, not drained). */
function readBody(body: Dispatcher.ResponseData["body"], max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        body.destroy();
        reject(new TooLarge());
      } else chunks.push(chunk);
    });
    body.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    body.on("error", reject);
  });
}

/** The reply's text, decoded when the server compressed it (fetch did; only when the caller asked by `accept-encoding`). */
async function replyText(response: Dispatcher.ResponseData, max: number): Promise<string> {
  const raw = await readBody(response.body, max);
  const encoding = response.headers["content-encoding"];
  const decode = typeof encoding === "string" ? decoders[encoding.trim().toLowerCase()] : undefined;
  if (!decode || raw.length === 0) return raw.toString("utf8");
  try {
    return (await decode(raw, { maxOutputLength: max })).toString("utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") throw new TooLarge();
    throw error;
  }
}

/**
 * One attempt's cancellation, fired by the caller's signal or the attempt's deadline. undici takes an emitter
 * (`on`/`addListener`/`removeListener`, `aborted`, `reason`) as a request's `signal`; this one costs a fraction of
 * an AbortController, whose AbortSignal is an EventTarget (measured: AbortController/AbortSignal/listener objects
 * were ~12 % of the bytes a poll allocated in the capacity benchmark).
 */
class AttemptSignal {
  aborted = false;
  reason: unknown = undefined;
  #listeners: Array<() => void> = [];

  on(_event: "abort", listener: () => void): this {
    return this.addListener(_event, listener);
  }

  addListener(_event: "abort", listener: () => void): this {
    this.#listeners.push(listener);
    return this;
  }

  removeListener(_event: "abort", listener: () => void): this {
    const at = this.#listeners.indexOf(listener);
    if (at >= 0) this.#listeners.splice(at, 1);
    return this;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    for (const listener of this.#listeners.splice(0)) listener();
  }
}

/** Stops an attempt at its deadline, with the reason `AbortSignal.timeout` gives (a timer callback taking its argument: no closure). */
function abortForTimeout(attempt: AttemptSignal): void {
  attempt.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
}

const isRedirect = (status: number) => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/** One HTTP request (one attempt: no retries). */
export interface HttpRequest {
  /** Default: "GET". */
  method?: string;
  url: string | URL;
  /** Headers, names in any case. `user-agent` is `flyte-connectors` by default. Default: none other. */
  headers?: Readonly<Record<string, string>>;
  /** Default: no body. */
  body?: string | Uint8Array;
  /** Deadline in milliseconds (connecting, sending and reading the whole reply). Default: 30 000. */
  timeout?: number;
  /** The call's cancellation: the request rejects with its reason. Default: none. */
  signal?: AbortSignal;
  /** As {@link JsonRequest.redirect}; a redirect not followed is returned as the reply. Default: `"follow"`. */
  redirect?: "follow" | "manual";
  /** As {@link JsonRequest.urlPolicy} (redirects are then not followed). Default: none. */
  urlPolicy?: UrlPolicy;
  /** Largest reply body read, in bytes (decompressed). Default: 16 MiB. */
  maxResponseBytes?: number;
}

/** A reply of {@link sendRequest}, whatever its status. */
export interface HttpReply {
  status: number;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as UTF-8 text; undefined when it was larger than `maxResponseBytes` (not read further, connection closed). */
  text: string | undefined;
}

/** One request, settled: headers normalised, URL checked, dispatcher chosen (shared by the attempts of a call). */
interface Prepared {
  target: URL;
  dispatcher: Dispatcher;
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  timeout: number;
  signal: AbortSignal | undefined;
  follow: boolean;
  maxResponseBytes: number;
}

function prepare(request: HttpRequest, defaults: Record<string, string>): Prepared {
  const { urlPolicy } = request;
  const target = urlPolicy ? urlPolicy.check(request.url) : new URL(request.url);
  const headers: Record<string, string> = { ...defaults };
  if (request.headers) for (const name in request.headers) headers[name.toLowerCase()] = request.headers[name]!;
  return {
    target,
    dispatcher: urlPolicy?.dispatcherFor(target) ?? getGlobalDispatcher(),
    method: request.method ?? "GET",
    headers,
    body: request.body,
    timeout: request.timeout ?? 30_000,
    signal: request.signal,
    follow: !urlPolicy && request.redirect !== "manual",
    maxResponseBytes: request.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
}

async function send(prepared: Prepared): Promise<HttpReply> {
  const { dispatcher, signal, follow, target } = prepared;
  signal?.throwIfAborted();
  const attempt = new AttemptSignal();
  const timer = setTimeout(abortForTimeout, prepared.timeout, attempt);
  const onAbort = signal ? () => attempt.abort(signal.reason) : undefined;
  if (onAbort) signal?.addEventListener("abort", onAbort);
  try {
    let url = target;
    let method = prepared.method;
    let body = prepared.body;
    let headers = prepared.headers;
    for (let redirects = 0; ; redirects++) {
      const response = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null,
        signal: attempt,
      });
      const status = response.statusCode;
      const location = response.headers.location;
      if (follow && isRedirect(status) && typeof location === "string") {
        await response.body.dump();
        if (redirects >= MAX_REDIRECTS) throw new HttpError(status, prepared.method, target.pathname, `more than ${MAX_REDIRECTS} redirects`);
        const next = new URL(location, url);
        if (next.protocol !== "http:" && next.protocol !== "https:") throw new HttpError(status, prepared.method, target.pathname, "redirect to a URL that is not http(s)");
        headers = { ...headers };
        if (status === 303 ? method !== "HEAD" : (status === 301 || status === 302) && method === "POST") {
          method = "GET";
          body = undefined;
          for (const name of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) delete headers[name];
        }
        // As fetch: credentials the client manages do not follow a redirect to another origin.
        if (next.origin !== url.origin) for (const name of ["authorization", "proxy-authorization", "cookie"]) delete headers[name];
        url = next;
        continue;
      }
      let text: string | undefined;
      try {
        text = await replyText(response, prepared.maxResponseBytes);
      } catch (error) {
        if (!(error instanceof TooLarge)) throw error;
      }
      return { status, headers: response.headers, text };
    }
  } catch (error) {
    if (attempt.aborted) throw attempt.reason; // TimeoutError, or the caller's reason
    throw urlRefusal(error) ?? error; // the policy's refusal at connect time, however undici wrapped it
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

const NO_DEFAULTS: Record<string, string> = { "user-agent": USER_AGENT };

/**
 * Sends one request and returns the reply whatever its status — for APIs whose statuses carry meaning (e.g. 202
 * "still running") or whose replies are not JSON; {@link requestJson} is this plus JSON, status errors and retries.
 * Sent with undici's `request` API (see {@link requestJson}). A timeout rejects with a `TimeoutError`, the
 * caller's cancellation with its signal's reason, a connection failure with its code (`describeFault`).
 */
export function sendRequest(request: HttpRequest): Promise<HttpReply> {
  return send(prepare(request, NO_DEFAULTS));
}

const JSON_DEFAULTS: Record<string, string> = { accept: "application/json", "user-agent": USER_AGENT };

/**
 * Sends a JSON request and returns the parsed JSON reply (`undefined` for an empty body). Non-2xx replies throw
 * {@link HttpError}; transient faults (429, 5xx, resets, per-attempt timeouts) are retried with back-off, honouring
 * `Retry-After`. Sent with undici's `request` API on undici's global dispatcher (the keep-alive connection pool
 * Node's `fetch` shares, so a process-wide proxy or agent set with `setGlobalDispatcher` applies), or the URL
 * policy's guarded one: measured at 1,000 requests in flight against a 200 ms API it costs a fifth to a third of
 * the CPU of `fetch` per request (`packages/service/bench/http-clients.mjs`), which is what bounds how many tasks a
 * connector pod can poll. A timeout rejects with a `TimeoutError`, the caller's cancellation with its signal's reason.
 */
export async function requestJson<T = unknown>(request: JsonRequest): Promise<T> {
  const { body, signal } = request;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const prepared = prepare(
    { ...request, method: request.method ?? (body === undefined ? "GET" : "POST"), body: payload },
    JSON_DEFAULTS,
  );
  if (payload !== undefined) prepared.headers["content-type"] ??= "application/json";
  const { method, maxResponseBytes } = prepared;
  const path = prepared.target.pathname;
  const once = async (): Promise<T> => {
    const reply = await send(prepared);
    if (reply.text === undefined) throw new ConnectorError("INTERNAL", `The reply to ${method} ${path} is larger than ${maxResponseBytes} bytes.`);
    if (reply.status < 200 || reply.status > 299) {
      const retryAfter = reply.headers["retry-after"];
      throw new HttpError(reply.status, method, path, reply.text.slice(0, MAX_ERROR_BODY), parseRetryAfter(typeof retryAfter === "string" ? retryAfter : null));
    }
    return (reply.text ? JSON.parse(reply.text) : undefined) as T;
  };
  if (request.retry === false) return once();
  return withRetries(once, { ...(signal ? { signal } : {}), ...request.retry });
}
