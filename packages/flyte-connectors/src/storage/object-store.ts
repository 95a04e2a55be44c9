/** One Storage for every scheme: routes URIs to backends loaded on first use, retries, names URI and cause in errors. */
import { Readable } from "node:stream";
import { withRetries } from "../http/retry.js";
import type { Backend } from "./backend.js";
import { storageConfigFromEnv, type StorageConfig } from "./config.js";
import { StorageError, type CallOptions, type GetOptions, type ObjectInfo, type PutBody, type PutOptions, type Storage } from "./types.js";
import { parseUri, UnsupportedUriError, uriOf, type Location, type Scheme } from "./uri.js";

/** Options of {@link ObjectStore}. */
export interface ObjectStoreOptions extends StorageConfig {
  /** Backends to use instead of the built-in ones, by scheme (e.g. a fake in a test). Default: none. */
  backends?: Partial<Record<Scheme, Backend>>;
}

/** The SDK package each scheme needs, named in the error when it is not installed. */
const SDKS: Record<Exclude<Scheme, "file">, string[]> = {
  s3: ["@aws-sdk/client-s3", "@aws-sdk/lib-storage"],
  gs: ["@google-cloud/storage"],
  // @azure/identity: for a service principal or the default credential (not for a shared key).
  abfs: ["@azure/storage-blob", "@azure/identity"],
};

/**
 * Reads and writes s3://, gs://, abfs(s):// and file:// (and plain paths). A vendor SDK is imported the first
 * time its scheme is used, so the SDKs are optional peer dependencies: install the ones you use.
 *
 * Retries: transient failures (network errors, 5xx, 429, timeouts) are retried `retries` times with
 * exponential back-off; the call's signal ends the retries and any wait. Streamed uploads are not retried
 * (a stream is read once); streamed downloads are retried until the store answers.
 *
 * Local files are read and written like any other scheme: wrap it in `RemoteOnlyStorage` where a remote caller
 * chooses the URIs (the service does unless started with --allow-local-files).
 */
export class ObjectStore implements Storage {
  readonly #options: ObjectStoreOptions;
  readonly #backends = new Map<Scheme, Promise<Backend>>();

  constructor(options: ObjectStoreOptions = {}) {
    this.#options = options;
    for (const [scheme, backend] of Object.entries(options.backends ?? {})) {
      if (backend) this.#backends.set(scheme as Scheme, Promise.resolve(backend));
    }
  }

  /** A store configured from flyte-sdk's environment variables (see {@link storageConfigFromEnv}), then `overrides`. */
  static fromEnv(env: Readonly<Record<string, string | undefined>> = process.env, overrides: ObjectStoreOptions = {}): ObjectStore {
    const fromEnv = storageConfigFromEnv(env);
    return new ObjectStore({
      ...fromEnv,
      ...overrides,
      s3: { ...fromEnv.s3, ...overrides.s3 },
      gcs: { ...fromEnv.gcs, ...overrides.gcs },
      azure: { ...fromEnv.azure, ...overrides.azure },
    });
  }

  async get(uri: string, options: GetOptions = {}): Promise<Uint8Array> {
    const stream = await this.getStream(uri, options);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (error) {
      throw await this.#error("read", uri, error, options.signal);
    }
    const bytes = Buffer.concat(chunks);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async read(uri: string, signal?: AbortSignal): Promise<Uint8Array> {
    return this.get(uri, signal ? { signal } : {});
  }

  async getStream(uri: string, options: GetOptions = {}): Promise<Readable> {
    const range = options.range;
    if (range && (!Number.isSafeInteger(range.offset) || range.offset < 0 || (range.length !== undefined && (!Number.isSafeInteger(range.length) || range.length < 0)))) {
      throw new StorageError("invalid", "read", uri, `invalid range ${JSON.stringify(range)}: offset and length must be non-negative integers`);
    }
    if (range?.length === 0) return Readable.from([]);
    const backendRange = range ? { offset: range.offset, ...(range.length !== undefined ? { end: range.offset + range.length - 1 } : {}) } : undefined;
    return this.#run("read", uri, options.signal, (backend, loc) => backend.get(loc, backendRange, options.signal));
  }

  async put(uri: string, body: PutBody, options: PutOptions = {}): Promise<void> {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    await this.#run("write", uri, options.signal, (backend, loc) => backend.put(loc, bytes, options.contentType, options.signal));
  }

  async putStream(uri: string, body: Readable | AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<void> {
    const stream = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
    await this.#run("write", uri, options.signal, (backend, loc) => backend.putStream(loc, stream, options.contentType, options.signal), { retry: false });
  }

  async head(uri: string, options: CallOptions = {}): Promise<ObjectInfo> {
    const info = await this.#run("stat", uri, options.signal, (backend, loc) => backend.head(loc, options.signal));
    return { uri, size: info.size, ...(info.lastModified ? { lastModified: info.lastModified } : {}), ...(info.etag ? { etag: info.etag } : {}) };
  }

  async exists(uri: string, options: CallOptions = {}): Promise<boolean> {
    try {
      await this.head(uri, options);
      return true;
    } catch (error) {
      if (error instanceof StorageError && error.problem === "not-found") return false;
      throw error;
    }
  }

  async *list(prefix: string, options: CallOptions = {}): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.#run("list", prefix, options.signal, (backend, loc) => backend.listPage(loc, token, options.signal));
      const loc = parseUri(prefix);
      for (const object of page.objects) {
        yield {
          uri: uriOf(loc, object.key),
          size: object.size,
          ...(object.lastModified ? { lastModified: object.lastModified } : {}),
          ...(object.etag ? { etag: object.etag } : {}),
        };
      }
      token = page.next;
    } while (token !== undefined);
  }

  async delete(uri: string, options: CallOptions = {}): Promise<void> {
    await this.#run("delete", uri, options.signal, (backend, loc) => backend.delete(loc, options.signal));
  }

  /** Parses the URI, loads its backend and runs `call`, retrying transient failures within the signal. */
  async #run<T>(operation: string, uri: string, signal: AbortSignal | undefined, call: (backend: Backend, loc: Location) => Promise<T>, opts: { retry?: boolean } = {}): Promise<T> {
    let loc: Location;
    try {
      loc = parseUri(uri);
    } catch (error) {
      if (error instanceof UnsupportedUriError) throw new StorageError("invalid", operation, uri, error.message);
      throw error;
    }
    const backend = await this.#backend(loc.scheme, operation, uri);
    try {
      return await withRetries(() => call(backend, loc), {
        retries: opts.retry === false ? 0 : (this.#options.retries ?? 3),
        minDelay: this.#options.backoffMs ?? 1000,
        maxDelay: 16_000,
        ...(signal ? { signal } : {}),
        shouldRetry: (error) => !signal?.aborted && backend.classify(error).problem === "transient",
      });
    } catch (error) {
      throw await this.#error(operation, uri, error, signal, backend);
    }
  }

  async #error(operation: string, uri: string, error: unknown, signal: AbortSignal | undefined, backend?: Backend): Promise<StorageError> {
    if (error instanceof StorageError) return error;
    if (signal?.aborted) {
      const timedOut = (signal.reason as { name?: unknown } | undefined)?.name === "TimeoutError";
      return new StorageError("aborted", operation, uri, timedOut ? "the call's deadline passed" : "the call was cancelled", {
        cause: error,
        code: timedOut ? "DEADLINE_EXCEEDED" : "CANCELLED",
      });
    }
    const b = backend ?? (await this.#backend(parseUri(uri).scheme, operation, uri).catch(() => undefined));
    const { problem, detail } = b ? b.classify(error) : { problem: "other" as const, detail: String(error) };
    return new StorageError(problem, operation, uri, detail, { cause: error });
  }

  #backend(scheme: Scheme, operation: string, uri: string): Promise<Backend> {
    let backend = this.#backends.get(scheme);
    if (!backend) {
      backend = this.#load(scheme).catch((error: unknown) => {
        this.#backends.delete(scheme); // an SDK installed later is picked up by the next call
        const missing = (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND";
        throw new StorageError(
          missing ? "unavailable-sdk" : "other",
          operation,
          uri,
          missing && scheme !== "file"
            ? `the ${scheme}:// backend needs ${SDKS[scheme].join(" and ")}, which are not installed; install them beside flyte-connectors (npm install ${SDKS[scheme].join(" ")})`
            : `cannot load the ${scheme}:// backend: ${(error as Error).message}`,
          { cause: error },
        );
      });
      this.#backends.set(scheme, backend);
    }
    return backend;
  }

  /** Imports the backend module (and through it the SDK) the first time a scheme is used. */
  async #load(scheme: Scheme): Promise<Backend> {
    const o = this.#options;
    const upload = { partSize: o.partSize ?? 8 * 1024 * 1024, concurrency: o.uploadConcurrency ?? 4 };
    switch (scheme) {
      case "file":
        return new (await import("./file.js")).FileBackend();
      case "s3":
        return (await import("./s3.js")).createS3Backend(o.s3 ?? {}, upload);
      case "gs":
        return (await import("./gcs.js")).createGcsBackend(o.gcs ?? {}, upload);
      case "abfs":
        return (await import("./azure.js")).createAzureBackend(o.azure ?? {}, upload);
    }
  }
}

let defaultStore: ObjectStore | undefined;

/** The process-wide store configured from the environment (created on first use). */
export function defaultStorage(): ObjectStore {
  return (defaultStore ??= ObjectStore.fromEnv());
}
