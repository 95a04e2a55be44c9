/** Where offloaded literals (`Literal.offloadedMetadata.uri`) are read from. */
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { TypeConversionError } from "../errors.js";
import { StorageError, type CallOptions, type GetOptions, type ObjectInfo, type PutBody, type PutOptions, type Storage } from "../storage/types.js";
import { isLocalUri } from "../storage/uri.js";

/** Reads the bytes at a URI: the part of {@link Storage} the decoder needs for offloaded literals. */
export interface LiteralStorage {
  read(uri: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** Reads plain paths and `file://` URIs from the local disk; rejects every other scheme. */
export class LocalFileStorage implements LiteralStorage {
  async read(uri: string, signal?: AbortSignal): Promise<Uint8Array> {
    let path: string | undefined;
    try {
      path = localPathOf(uri);
    } catch (cause) {
      throw new TypeConversionError(`cannot read "${uri}": not a valid local file:// URI`, { cause });
    }
    if (path === undefined) {
      const scheme = uri.slice(0, uri.indexOf(":"));
      throw new TypeConversionError(
        `cannot read "${uri}": scheme "${scheme}" is not supported by LocalFileStorage (plain paths and file:// only); configure a LiteralStorage that reads ${scheme}:// URIs`,
      );
    }
    const bytes = await readFile(path, signal ? { signal } : {});
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

/**
 * The local path of a plain path or a `file://` URI; undefined for any other scheme (s3://, gs://, …).
 * @throws TypeError for a malformed file:// URI.
 */
export function localPathOf(uri: string): string | undefined {
  // A one-letter "scheme" is a Windows drive (C:\…), not a URI.
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(uri)?.[1];
  if (scheme === undefined) return uri;
  return scheme.toLowerCase() === "file" ? fileURLToPath(uri) : undefined;
}

/**
 * Reads (and writes) through `inner` except local paths and `file://` URIs, which it refuses: a service answering
 * remote callers must not let a request make it read or write its own disk (an offloaded literal or a File naming
 * /etc/… or a mounted secret, an output prefix pointing into the service's files).
 */
export class RemoteOnlyStorage implements Storage {
  readonly #inner: LiteralStorage | Storage;

  constructor(inner: LiteralStorage | Storage) {
    this.#inner = inner;
  }

  async read(uri: string, signal?: AbortSignal): Promise<Uint8Array> {
    this.#check("read", uri);
    return this.#inner.read(uri, signal);
  }

  async get(uri: string, options?: GetOptions): Promise<Uint8Array> {
    return this.#full("read", uri).get(uri, options);
  }

  async getStream(uri: string, options?: GetOptions): Promise<Readable> {
    return this.#full("read", uri).getStream(uri, options);
  }

  async put(uri: string, body: PutBody, options?: PutOptions): Promise<void> {
    return this.#full("write", uri).put(uri, body, options);
  }

  async putStream(uri: string, body: Readable | AsyncIterable<Uint8Array>, options?: PutOptions): Promise<void> {
    return this.#full("write", uri).putStream(uri, body, options);
  }

  async head(uri: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.#full("stat", uri).head(uri, options);
  }

  async exists(uri: string, options?: CallOptions): Promise<boolean> {
    return this.#full("stat", uri).exists(uri, options);
  }

  async *list(prefix: string, options?: CallOptions): AsyncIterable<ObjectInfo> {
    yield* this.#full("list", prefix).list(prefix, options);
  }

  async delete(uri: string, options?: CallOptions): Promise<void> {
    return this.#full("delete", uri).delete(uri, options);
  }

  #check(operation: string, uri: string): void {
    if (isLocalUri(uri)) {
      throw new StorageError(
        "invalid",
        operation,
        uri,
        "the service does not read or write local paths or file:// URIs for a caller; start it with --allow-local-files (the allowLocalFiles option) to allow this",
      );
    }
  }

  #full(operation: string, uri: string): Storage {
    this.#check(operation, uri);
    if (!isStorage(this.#inner)) throw new StorageError("invalid", operation, uri, "the configured storage only reads whole objects (a LiteralStorage)");
    return this.#inner;
  }
}

/** Whether `storage` implements the whole {@link Storage} interface (not only `read`). */
export function isStorage(storage: LiteralStorage | Storage): storage is Storage {
  return typeof (storage as Partial<Storage>).getStream === "function" && typeof (storage as Partial<Storage>).putStream === "function";
}
