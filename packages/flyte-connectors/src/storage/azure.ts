/**
 * abfs:// and abfss:// (Azure Blob Storage and ADLS Gen2 through its Blob endpoint) with the official
 * @azure/storage-blob SDK; @azure/identity only when a service principal or the default credential is used.
 * Imported on first use.
 */
import type { Readable } from "node:stream";
import { classifyHttp, safeMessage, type Backend, type ListedObject, type ListPage } from "./backend.js";
import type { AzureConfig } from "./config.js";
import type { StorageProblem } from "./types.js";
import type { Location } from "./uri.js";

type BlobSdk = typeof import("@azure/storage-blob");
type ServiceClient = InstanceType<BlobSdk["BlobServiceClient"]>;

export async function createAzureBackend(config: AzureConfig, upload: { partSize: number; concurrency: number }): Promise<Backend> {
  const sdk = await import("@azure/storage-blob");
  // One attempt per call: ObjectStore retries within the caller's signal.
  const pipelineOptions = { retryOptions: { maxTries: 1 } };
  const clients = new Map<string, ServiceClient>();

  async function service(account: string | undefined): Promise<ServiceClient> {
    const name = account ?? config.accountName;
    const key = name ?? "";
    let client = clients.get(key);
    if (client) return client;
    if (!name && config.connectionString) {
      client = sdk.BlobServiceClient.fromConnectionString(config.connectionString, pipelineOptions);
    } else {
      if (!name) throw new AzureConfigError("no storage account: name it in the URI (abfs://<container>@<account>.dfs.core.windows.net/…) or set AZURE_STORAGE_ACCOUNT_NAME");
      const url = (config.endpoint ?? "https://{account}.blob.core.windows.net").replace("{account}", name);
      if (config.accountKey) {
        client = new sdk.BlobServiceClient(url, new sdk.StorageSharedKeyCredential(name, config.accountKey), pipelineOptions);
      } else {
        // Service principal from flyte-sdk's variables, else the Azure default chain (env, workload identity, managed identity, CLI).
        const identity = await import("@azure/identity");
        const credential =
          config.tenantId && config.clientId && config.clientSecret
            ? new identity.ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret)
            : new identity.DefaultAzureCredential();
        client = new sdk.BlobServiceClient(url, credential, pipelineOptions);
      }
    }
    clients.set(key, client);
    return client;
  }

  const blob = async (loc: Location) => (await service(loc.account)).getContainerClient(loc.bucket).getBlockBlobClient(loc.key);
  const opts = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});

  return {
    async get(loc, range, signal) {
      const client = await blob(loc);
      const count = range?.end !== undefined ? range.end - range.offset + 1 : undefined;
      const answer = await client.download(range?.offset ?? 0, count, opts(signal));
      // In Node the body is the HTTP response stream, never buffered whole.
      return answer.readableStreamBody as Readable;
    },

    async put(loc, body, contentType, signal) {
      const client = await blob(loc);
      await client.upload(body, body.byteLength, { ...opts(signal), ...(contentType ? { blobHTTPHeaders: { blobContentType: contentType } } : {}) });
    },

    async putStream(loc, body, contentType, signal) {
      // Staged blocks of `partSize`, at most `concurrency` buffers in memory, then one commit.
      const client = await blob(loc);
      await client.uploadStream(body, upload.partSize, upload.concurrency, { ...opts(signal), ...(contentType ? { blobHTTPHeaders: { blobContentType: contentType } } : {}) });
    },

    async head(loc, signal) {
      const props = await (await blob(loc)).getProperties(opts(signal));
      return {
        key: loc.key,
        size: props.contentLength ?? 0,
        ...(props.lastModified ? { lastModified: props.lastModified } : {}),
        ...(props.etag ? { etag: props.etag.replace(/"/g, "") } : {}),
      };
    },

    async listPage(loc, token, signal): Promise<ListPage> {
      const container = (await service(loc.account)).getContainerClient(loc.bucket);
      const pages = container.listBlobsFlat({ prefix: loc.key, ...opts(signal) }).byPage({ maxPageSize: 1000, ...(token ? { continuationToken: token } : {}) });
      const page = await pages.next();
      if (page.done) return { objects: [] };
      const objects: ListedObject[] = page.value.segment.blobItems.map((item) => ({
        key: item.name,
        size: item.properties.contentLength ?? 0,
        ...(item.properties.lastModified ? { lastModified: item.properties.lastModified } : {}),
        ...(item.properties.etag ? { etag: item.properties.etag.replace(/"/g, "") } : {}),
      }));
      return { objects, ...(page.value.continuationToken ? { next: page.value.continuationToken } : {}) };
    },

    async delete(loc, signal) {
      await (await blob(loc)).deleteIfExists(opts(signal));
    },

    classify(error) {
      if (error instanceof AzureConfigError) return { problem: "invalid", detail: error.message };
      const e = error as { name?: string; code?: string; statusCode?: number };
      let problem: StorageProblem = classifyHttp(e.statusCode, e.code, e.name);
      if (e.code === "AuthenticationFailed" || e.code === "AuthorizationFailure" || e.name === "CredentialUnavailableError" || e.name === "AuthenticationError") problem = "denied";
      const detail =
        problem === "not-found"
          ? `not found (${e.code ?? "404"})`
          : problem === "denied"
            ? `the store refused the credentials (${e.code ?? e.name ?? e.statusCode}): check AZURE_STORAGE_ACCOUNT_NAME/AZURE_STORAGE_ACCOUNT_KEY, the AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET service principal or the Azure default credential`
            : `${e.code ? `${e.code}: ` : ""}${firstLine(safeMessage(error))}${e.statusCode ? ` (HTTP ${e.statusCode})` : ""}`;
      return { problem, detail };
    },
  };
}

/** A configuration problem found before any request (no account). */
class AzureConfigError extends Error {}

/** Azure error messages carry a RequestId and Time on further lines; the first says what went wrong. */
function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
