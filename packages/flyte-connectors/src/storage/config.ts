/**
 * Storage configuration, read from the variables flyte-sdk reads (`flyte.storage` S3/GCS/ABFS configs), so a
 * deployment configured for Python tasks works unchanged; anything unset falls through to each vendor SDK's own
 * standard chain (AWS env/profile/web identity/IMDS, Google ADC/workload identity, Azure default credential).
 */

/** S3 and S3-compatible stores (MinIO, …). */
export interface S3Config {
  /** Endpoint URL, e.g. `http://minio:9000`. Env: FLYTE_AWS_ENDPOINT. Default: AWS (the SDK's own resolution, which also reads AWS_ENDPOINT_URL_S3). */
  endpoint?: string;
  /** Static access key id. Env: FLYTE_AWS_ACCESS_KEY_ID. Default: the AWS SDK's default credential chain. */
  accessKeyId?: string;
  /** Static secret key (used only with accessKeyId). Env: FLYTE_AWS_SECRET_ACCESS_KEY. */
  secretAccessKey?: string;
  /** Region. Env: AWS_REGION, AWS_DEFAULT_REGION. Default: us-east-1 (requests are redirected to a bucket's own region). */
  region?: string;
  /** `path` (`endpoint/bucket/key`) or `virtual` (`bucket.endpoint/key`). Env: FLYTE_AWS_S3_ADDRESSING_STYLE. Default: path with an endpoint (as flyte-sdk's obstore), virtual without. */
  addressingStyle?: "path" | "virtual";
}

/** Google Cloud Storage. */
export interface GcsConfig {
  /** JSON API endpoint, e.g. a local emulator's `http://127.0.0.1:4443`. Env: STORAGE_EMULATOR_HOST (the SDK's). Default: Google's. */
  endpoint?: string;
  /** Project id (only needed by some credentials). Env: GOOGLE_CLOUD_PROJECT. Default: from the credentials. */
  projectId?: string;
  /**
   * An Application Default Credentials file (service account key, external_account, …). Default: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
   * file, then the metadata server / workload identity). With a custom `endpoint` only this file is used.
   */
  keyFilename?: string;
}

/** Azure Blob Storage / ADLS Gen2 (abfs://, abfss://). */
export interface AzureConfig {
  /** Storage account used for `abfs://container/path` URIs (URIs naming `container@account…` use theirs). Env: AZURE_STORAGE_ACCOUNT_NAME. */
  accountName?: string;
  /** Shared key. Env: AZURE_STORAGE_ACCOUNT_KEY. */
  accountKey?: string;
  /** Service principal (all three together). Env: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET. */
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Blob endpoint with `{account}` standing for the account, e.g. `http://127.0.0.1:10000/{account}` (Azurite). Default: `https://{account}.blob.core.windows.net`. */
  endpoint?: string;
  /** A full connection string (used when no key or service principal is set). Env: AZURE_STORAGE_CONNECTION_STRING. */
  connectionString?: string;
}

export interface StorageConfig {
  s3?: S3Config;
  gcs?: GcsConfig;
  azure?: AzureConfig;
  /** Retries of a failed call after the first attempt (transient failures only). Env: FLYTE_STORAGE_RETRIES. Default: 3 (flyte-sdk's). */
  retries?: number;
  /** Upper bound of the first back-off in milliseconds, doubling per retry up to 16 s; a call's signal ends the wait. Env: FLYTE_STORAGE_BACKOFF_SECONDS. Default: 1000. */
  backoffMs?: number;
  /** Part size of multipart/block uploads in bytes. Default: 8 MiB (memory per upload is about this times `uploadConcurrency`). */
  partSize?: number;
  /** Parts uploaded at once per stream. Default: 4. */
  uploadConcurrency?: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === "" ? undefined : value);

/** The configuration flyte-sdk would use in the same environment. */
export function storageConfigFromEnv(env: Env = process.env): StorageConfig {
  const style = nonEmpty(env["FLYTE_AWS_S3_ADDRESSING_STYLE"])?.toLowerCase();
  if (style !== undefined && style !== "path" && style !== "virtual") {
    throw new RangeError(`FLYTE_AWS_S3_ADDRESSING_STYLE must be "path" or "virtual", got ${JSON.stringify(style)}`);
  }
  const retries = nonEmpty(env["FLYTE_STORAGE_RETRIES"]);
  const backoff = nonEmpty(env["FLYTE_STORAGE_BACKOFF_SECONDS"]);
  return {
    s3: {
      endpoint: nonEmpty(env["FLYTE_AWS_ENDPOINT"]),
      accessKeyId: nonEmpty(env["FLYTE_AWS_ACCESS_KEY_ID"]),
      secretAccessKey: nonEmpty(env["FLYTE_AWS_SECRET_ACCESS_KEY"]),
      region: nonEmpty(env["AWS_REGION"]) ?? nonEmpty(env["AWS_DEFAULT_REGION"]),
      addressingStyle: style as S3Config["addressingStyle"],
    },
    gcs: {
      endpoint: nonEmpty(env["STORAGE_EMULATOR_HOST"]),
      projectId: nonEmpty(env["GOOGLE_CLOUD_PROJECT"]),
    },
    azure: {
      accountName: nonEmpty(env["AZURE_STORAGE_ACCOUNT_NAME"]),
      accountKey: nonEmpty(env["AZURE_STORAGE_ACCOUNT_KEY"]),
      tenantId: nonEmpty(env["AZURE_TENANT_ID"]),
      clientId: nonEmpty(env["AZURE_CLIENT_ID"]),
      clientSecret: nonEmpty(env["AZURE_CLIENT_SECRET"]),
      connectionString: nonEmpty(env["AZURE_STORAGE_CONNECTION_STRING"]),
    },
    retries: retries === undefined ? undefined : count("FLYTE_STORAGE_RETRIES", retries),
    backoffMs: backoff === undefined ? undefined : count("FLYTE_STORAGE_BACKOFF_SECONDS", backoff) * 1000,
  };
}

function count(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${name} must be a non-negative number, got ${JSON.stringify(value)}`);
  return n;
}
