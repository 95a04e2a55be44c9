/** The object storage interface shared by every scheme (s3://, gs://, abfs://, file://). */
import type { Readable } from "node:stream";
import { ConnectorError, type StatusName } from "../errors.js";

/** What `head` and `list` tell about one object. */
export interface ObjectInfo {
  /** The object's full URI, in the scheme it was asked with. */
  uri: string;
  /** Size in bytes. */
  size: number;
  /** Last modification time, when the store reports one. */
  lastModified?: Date;
  /** The store's entity tag, when it reports one (opaque; quotes removed). */
  etag?: string;
}

/** Options of every storage call. */
export interface CallOptions {
  /** Ends the call (and its retries): a passed deadline or a cancelled caller. Default: none. */
  signal?: AbortSignal;
}

/** Options of `get` and `getStream`. */
export interface GetOptions extends CallOptions {
  /** Read only bytes `[offset, offset + length)`; `length` omitted reads to the end. Default: the whole object. */
  range?: { offset: number; length?: number };
}

/** Options of `put` and `putStream`. */
export interface PutOptions extends CallOptions {
  /** The object's Content-Type. Default: none (the store's default, usually application/octet-stream). */
  contentType?: string;
}

/** The bytes `put` accepts: binary, or text written as UTF-8. */
export type PutBody = Uint8Array | string;

/**
 * Reads and writes objects by URI. Every method names its URI and cause in its errors ({@link StorageError}),
 * never a credential. Streams keep memory flat: `getStream` and `putStream` never hold a whole object.
 */
export interface Storage {
  /** The whole object (or a range of it) in memory. */
  get(uri: string, options?: GetOptions): Promise<Uint8Array>;
  /** The object (or a range of it) as a stream; the request is made (and a missing object reported) before it resolves. */
  getStream(uri: string, options?: GetOptions): Promise<Readable>;
  /** Writes an object from memory, replacing any object at `uri`. */
  put(uri: string, body: PutBody, options?: PutOptions): Promise<void>;
  /** Writes an object from a stream (multipart on the object stores), replacing any object at `uri`. */
  putStream(uri: string, body: Readable | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<void>;
  /** Size and metadata; throws {@link StorageError} with code NOT_FOUND when there is no object at `uri`. */
  head(uri: string, options?: CallOptions): Promise<ObjectInfo>;
  /** Whether an object exists at `uri`. */
  exists(uri: string, options?: CallOptions): Promise<boolean>;
  /** Every object whose URI starts with `prefix` (recursively), in the store's order. */
  list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo>;
  /** Deletes the object at `uri`; deleting a missing object is not an error. */
  delete(uri: string, options?: CallOptions): Promise<void>;
  /** The whole object: the form offloaded literals are read with (`LiteralStorage`). */
  read(uri: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** Why a storage call failed, as far as the caller needs to know. */
export type StorageProblem =
  /** No object (or bucket/container) at the URI. */
  | "not-found"
  /** The store refused the credentials or their permissions. */
  | "denied"
  /** A malformed URI, an unsupported scheme, a bad range, a local path where local files are off. */
  | "invalid"
  /** The SDK for the scheme is not installed. */
  | "unavailable-sdk"
  /** A network error, a timeout or a 5xx/429 answer that outlived the retries. */
  | "transient"
  /** The call's signal fired. */
  | "aborted"
  | "other";

const CODES: Record<StorageProblem, StatusName> = {
  "not-found": "NOT_FOUND",
  denied: "FAILED_PRECONDITION",
  invalid: "INVALID_ARGUMENT",
  "unavailable-sdk": "FAILED_PRECONDITION",
  transient: "UNAVAILABLE",
  aborted: "CANCELLED",
  other: "INTERNAL",
};

/** A failed storage call: names the operation, the URI and the cause; never a credential. */
export class StorageError extends ConnectorError {
  readonly problem: StorageProblem;
  readonly uri: string;

  constructor(problem: StorageProblem, operation: string, uri: string, detail: string, options?: { cause?: unknown; code?: StatusName }) {
    super(options?.code ?? CODES[problem], `cannot ${operation} "${uri}": ${detail}`, options);
    this.problem = problem;
    this.uri = uri;
  }
}
