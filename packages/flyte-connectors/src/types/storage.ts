/** Where offloaded literals (`Literal.offloadedMetadata.uri`) are read from. */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { TypeConversionError } from "../errors.js";

/** Reads the bytes at a URI. Implement this for object stores (s3://, gs://, abfs://, …). */
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
 * Reads through `inner` except local paths and `file://` URIs, which it refuses: a service answering remote
 * callers must not let a request make it read its own disk (an offloaded literal naming /etc/… or a mounted secret).
 */
export class RemoteOnlyStorage implements LiteralStorage {
  readonly #inner: LiteralStorage;

  constructor(inner: LiteralStorage) {
    this.#inner = inner;
  }

  async read(uri: string, signal?: AbortSignal): Promise<Uint8Array> {
    let local: boolean;
    try {
      local = localPathOf(uri) !== undefined;
    } catch {
      local = true; // a malformed file:// URI is still a local one
    }
    if (local) {
      throw new TypeConversionError(
        `cannot read "${uri}": the service does not read local paths or file:// URIs for a caller; start it with --allow-local-files (the allowLocalFiles option) to allow this`,
      );
    }
    return this.#inner.read(uri, signal);
  }
}
