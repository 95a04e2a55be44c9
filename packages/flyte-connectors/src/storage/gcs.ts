/** gs:// through the official @google-cloud/storage SDK (credentials: Application Default Credentials). Imported on first use. */
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { classifyHttp, safeMessage, type Backend, type ListPage } from "./backend.js";
import type { GcsConfig } from "./config.js";
import type { StorageProblem } from "./types.js";

export async function createGcsBackend(config: GcsConfig, upload: { partSize: number; concurrency: number }): Promise<Backend> {
  const { Storage } = await import("@google-cloud/storage");
  const client = new Storage({
    ...(config.endpoint ? { apiEndpoint: config.endpoint } : {}),
    ...(config.projectId ? { projectId: config.projectId } : {}),
    ...(config.keyFilename ? { keyFilename: config.keyFilename } : {}),
    // A custom endpoint (an emulator) gets no credentials unless a key file is named explicitly.
    useAuthWithCustomEndpoint: config.endpoint !== undefined && config.keyFilename !== undefined,
    // One attempt per call: ObjectStore retries within the caller's signal.
    retryOptions: { autoRetry: false, maxRetries: 0 },
  });
  const file = (bucket: string, key: string) => client.bucket(bucket).file(key);
  // The SDK's non-stream calls take no signal: the call ends when the signal fires (the request is abandoned).
  const abortable = <T>(signal: AbortSignal | undefined, work: Promise<T>): Promise<T> => {
    if (!signal) return work;
    signal.throwIfAborted();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(Object.assign(new Error("aborted"), { name: "AbortError" }));
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  };

  return {
    async get(loc, range, signal) {
      // Full reads are checked against the object's CRC32C/MD5 by the SDK; ranges cannot be.
      const source = file(loc.bucket, loc.key).createReadStream(range ? { start: range.offset, ...(range.end !== undefined ? { end: range.end } : {}) } : {});
      const out = new PassThrough();
      // The SDK requests lazily and reports a missing object as a stream error: wait for the answer first.
      await abortable(
        signal,
        new Promise<void>((resolve, reject) => {
          source.once("error", reject);
          source.once("response", (res: { statusCode?: number; status?: number }) => {
            if ((res.statusCode ?? res.status ?? 200) < 300) resolve();
          });
          source.once("end", () => resolve());
          source.pipe(out);
        }),
      ).catch((error: unknown) => {
        source.destroy();
        throw error;
      });
      source.on("error", (error) => out.destroy(error));
      signal?.addEventListener("abort", () => source.destroy(signal.reason as Error), { once: true });
      return out;
    },

    async put(loc, body, contentType, signal) {
      await abortable(signal, file(loc.bucket, loc.key).save(Buffer.from(body.buffer, body.byteOffset, body.byteLength), { resumable: false, ...(contentType ? { contentType } : {}) }));
    },

    async putStream(loc, body, contentType, signal) {
      // A resumable upload in chunks of `partSize` (one chunk in memory at a time). The session is opened first
      // with the store's credentials; its URI authorizes the chunks (also with a custom endpoint, where the SDK
      // would otherwise open the session without credentials).
      const target = file(loc.bucket, loc.key);
      const [uri] = await abortable(signal, target.createResumableUpload(contentType ? { metadata: { contentType } } : {}));
      const chunkSize = Math.max(256 * 1024, Math.floor(upload.partSize / (256 * 1024)) * 256 * 1024);
      await pipeline(body, target.createWriteStream({ uri, resumable: true, chunkSize, ...(contentType ? { contentType } : {}) }), signal ? { signal } : {});
    },

    async head(loc, signal) {
      const [meta] = await abortable(signal, file(loc.bucket, loc.key).getMetadata());
      return {
        key: loc.key,
        size: Number(meta.size ?? 0),
        ...(meta.updated ? { lastModified: new Date(meta.updated) } : {}),
        ...(meta.etag ? { etag: meta.etag } : {}),
      };
    },

    async listPage(loc, token, signal): Promise<ListPage> {
      const [files, next] = await abortable(
        signal,
        client.bucket(loc.bucket).getFiles({ prefix: loc.key, autoPaginate: false, maxResults: 1000, ...(token ? { pageToken: token } : {}) }),
      );
      const nextToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      return {
        objects: files.map((f) => ({
          key: f.name,
          size: Number(f.metadata.size ?? 0),
          ...(f.metadata.updated ? { lastModified: new Date(f.metadata.updated) } : {}),
          ...(f.metadata.etag ? { etag: f.metadata.etag } : {}),
        })),
        ...(nextToken ? { next: nextToken } : {}),
      };
    },

    async delete(loc, signal) {
      await abortable(signal, file(loc.bucket, loc.key).delete({ ignoreNotFound: true }));
    },

    classify(error) {
      const e = error as { name?: string; code?: number | string; status?: number; response?: { status?: number }; errors?: { reason?: string }[] };
      const status = typeof e.code === "number" ? e.code : (e.status ?? e.response?.status);
      let problem: StorageProblem = classifyHttp(status, typeof e.code === "string" ? e.code : undefined, e.name);
      if (/invalid_grant|Could not load the default credentials|unauthorized_client/i.test(safeMessage(error))) problem = "denied";
      const detail =
        problem === "not-found"
          ? "not found (404)"
          : problem === "denied"
            ? `the store refused the credentials (${status ?? e.errors?.[0]?.reason ?? "no token"}): check GOOGLE_APPLICATION_CREDENTIALS or the workload identity of the service`
            : `${safeMessage(error)}${status ? ` (HTTP ${status})` : ""}`;
      return { problem, detail };
    },
  };
}
