/** s3:// through the official AWS SDK v3 (also S3-compatible endpoints such as MinIO). Imported on first use. */
import type { Readable } from "node:stream";
import { classifyHttp, safeMessage, type Backend, type ListedObject, type ListPage } from "./backend.js";
import type { S3Config } from "./config.js";
import type { StorageProblem } from "./types.js";
import type { Location } from "./uri.js";

const NOT_FOUND = new Set(["NoSuchKey", "NotFound", "NoSuchBucket"]);
const DENIED = new Set(["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "CredentialsProviderError"]);

export async function createS3Backend(config: S3Config, upload: { partSize: number; concurrency: number }): Promise<Backend> {
  const sdk = await import("@aws-sdk/client-s3");
  const { Upload } = await import("@aws-sdk/lib-storage");
  const client = new sdk.S3Client({
    region: config.region ?? "us-east-1",
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.addressingStyle ? config.addressingStyle === "path" : config.endpoint !== undefined,
    // Static keys only when both are set; otherwise the SDK's chain (env, profile, web identity/IRSA, ECS, IMDS).
    ...(config.accessKeyId && config.secretAccessKey ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } } : {}),
    // One attempt per call: ObjectStore retries within the caller's signal.
    maxAttempts: 1,
    followRegionRedirects: true,
  });
  const opts = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});

  return {
    async get(loc, range, signal) {
      const answer = await client.send(
        new sdk.GetObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          ...(range ? { Range: `bytes=${range.offset}-${range.end ?? ""}` } : {}),
        }),
        opts(signal),
      );
      // In Node the body is the response's IncomingMessage: a stream, never buffered whole.
      return answer.Body as Readable;
    },

    async put(loc, body, contentType, signal) {
      await client.send(new sdk.PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: body, ...(contentType ? { ContentType: contentType } : {}) }), opts(signal));
    },

    async putStream(loc, body, contentType, signal) {
      // Multipart with at most `concurrency` parts of `partSize` in memory; a small stream is one PutObject.
      const abortController = new AbortController();
      const onAbort = () => abortController.abort(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await new Upload({
          client,
          params: { Bucket: loc.bucket, Key: loc.key, Body: body, ...(contentType ? { ContentType: contentType } : {}) },
          partSize: upload.partSize,
          queueSize: upload.concurrency,
          leavePartsOnError: false,
          abortController,
        }).done();
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    },

    async head(loc, signal) {
      const answer = await client.send(new sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), opts(signal));
      return {
        key: loc.key,
        size: answer.ContentLength ?? 0,
        ...(answer.LastModified ? { lastModified: answer.LastModified } : {}),
        ...(answer.ETag ? { etag: answer.ETag.replace(/"/g, "") } : {}),
      };
    },

    async listPage(loc, token, signal): Promise<ListPage> {
      const answer = await client.send(
        new sdk.ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.key, ...(token ? { ContinuationToken: token } : {}) }),
        opts(signal),
      );
      const objects: ListedObject[] = (answer.Contents ?? []).map((o) => ({
        key: o.Key ?? "",
        size: o.Size ?? 0,
        ...(o.LastModified ? { lastModified: o.LastModified } : {}),
        ...(o.ETag ? { etag: o.ETag.replace(/"/g, "") } : {}),
      }));
      return { objects, ...(answer.IsTruncated && answer.NextContinuationToken ? { next: answer.NextContinuationToken } : {}) };
    },

    async delete(loc, signal) {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }), opts(signal));
    },

    classify(error) {
      const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; Code?: string };
      const name = e.Code ?? e.name;
      let problem: StorageProblem;
      if (name && NOT_FOUND.has(name)) problem = "not-found";
      else if (name && DENIED.has(name)) problem = "denied";
      else problem = classifyHttp(e.$metadata?.httpStatusCode, e.code, e.name);
      const status = e.$metadata?.httpStatusCode;
      const detail =
        problem === "not-found"
          ? `not found (${name ?? "404"})`
          : problem === "denied"
            ? `the store refused the credentials (${name ?? status}): check FLYTE_AWS_ACCESS_KEY_ID/FLYTE_AWS_SECRET_ACCESS_KEY or the AWS credential chain`
            : `${name && name !== "Error" ? `${name}: ` : ""}${safeMessage(error)}${status ? ` (HTTP ${status})` : ""}`;
      return { problem, detail };
    },
  };
}
