/** What each scheme's backend implements; {@link ObjectStore} adds URIs, retries, errors and the local-file rule. */
import type { Readable } from "node:stream";
import type { StorageProblem } from "./types.js";
import type { Location } from "./uri.js";

/** One object as a backend lists it. */
export interface ListedObject {
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
}

/** One page of a listing; `next` continues it. */
export interface ListPage {
  objects: ListedObject[];
  next?: string;
}

/**
 * A store for one scheme. Each call makes one attempt (the SDK's own retries are off) and honours `signal`;
 * {@link classify} tells the caller whether a failure is worth retrying.
 */
export interface Backend {
  /** The object (or `[offset, end]`, inclusive end) as a stream, once the store has answered. */
  get(loc: Location, range: { offset: number; end?: number } | undefined, signal: AbortSignal | undefined): Promise<Readable>;
  put(loc: Location, body: Uint8Array, contentType: string | undefined, signal: AbortSignal | undefined): Promise<void>;
  /** Writes a stream without holding it whole (multipart/block uploads); not retried (a stream is read once). */
  putStream(loc: Location, body: Readable, contentType: string | undefined, signal: AbortSignal | undefined): Promise<void>;
  head(loc: Location, signal: AbortSignal | undefined): Promise<ListedObject>;
  listPage(loc: Location, token: string | undefined, signal: AbortSignal | undefined): Promise<ListPage>;
  /** Deletes; a missing object is not an error. */
  delete(loc: Location, signal: AbortSignal | undefined): Promise<void>;
  /** What kind of failure `error` is, and a short description of it without credentials. */
  classify(error: unknown): { problem: StorageProblem; detail: string };
}

/** Network-level failures worth retrying, by Node error code. */
const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "ECONNABORTED"]);

/** Classification shared by the backends from an HTTP status and a Node error code. */
export function classifyHttp(status: number | undefined, code: string | undefined, name: string | undefined): StorageProblem {
  if (name === "AbortError") return "aborted";
  if (status === 404) return "not-found";
  if (status === 401 || status === 403) return "denied";
  if (status === 400 || status === 416) return "invalid";
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return "transient";
  if (code !== undefined && TRANSIENT_CODES.has(code)) return "transient";
  if (name === "TimeoutError" || name === "RequestTimeout" || name === "TimeoutException") return "transient";
  return "other";
}

/** An error's message with anything that looks like a signed URL's query (signatures, SAS tokens) removed. */
export function safeMessage(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.replace(/(https?:\/\/[^\s?"']+)\?[^\s"']*/g, "$1?…").replace(/\b(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=[^&\s"']+/gi, "$1=…");
}
