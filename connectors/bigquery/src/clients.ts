import { createHash } from "node:crypto";
import { BigQuery, type BigQueryOptions } from "@google-cloud/bigquery";
import { ConnectorError } from "flyte-connectors";

/** The connection secret holding a JSON key, named as the Python connector names it. */
export const CREDENTIALS_SECRET = "google_application_credentials";

/** Most BigQuery clients one process keeps; the least recently used is dropped first. */
const MAX_CLIENTS = 64;

// One client per (credentials, project, endpoint, user agent) per process: each holds an auth client with its cached
// access token and a keep-alive connection pool. The key holds a hash of the credentials, never the credentials.
const clients = new Map<string, BigQuery>();

export interface ClientRequest {
  project: string;
  userAgent: string;
  /** The connector's `apiEndpoint` option. */
  apiEndpoint: string | undefined;
  /** The request's secrets (the JSON key, if any). */
  secrets: Readonly<Record<string, string>>;
  /** Deadline of each HTTP attempt in milliseconds. */
  timeout: number;
}

/** The credentials of a request: a parsed JSON key, or undefined for Application Default Credentials. */
export function credentialsOf(secrets: Readonly<Record<string, string>>): Record<string, unknown> | undefined {
  const text = secrets[CREDENTIALS_SECRET];
  if (text === undefined || text.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never echo the text: it is a secret.
    throw new ConnectorError("FAILED_PRECONDITION", `The secret "${CREDENTIALS_SECRET}" is not a JSON key (it does not parse as JSON).`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConnectorError("FAILED_PRECONDITION", `The secret "${CREDENTIALS_SECRET}" is not a JSON key (expected a JSON object).`);
  }
  return parsed as Record<string, unknown>;
}

/** Strings of the credentials that must never reach a message: the whole secret and its key fields. */
export function secretTexts(secrets: Readonly<Record<string, string>>): string[] {
  const texts = Object.values(secrets);
  try {
    const key = credentialsOf(secrets);
    for (const field of ["private_key", "private_key_id", "client_secret", "refresh_token"]) {
      const value = key?.[field];
      if (typeof value === "string") texts.push(value, ...value.split("\n").filter((line) => line.length >= 16 && !line.startsWith("-----")));
    }
  } catch {
    // Not JSON: the whole secret is already in the list.
  }
  return texts;
}

/** The cached BigQuery client for a request's credentials, project, endpoint and user agent (created on first use). */
export function clientFor(request: ClientRequest): BigQuery {
  const credentials = credentialsOf(request.secrets);
  const credentialsHash = credentials ? createHash("sha256").update(request.secrets[CREDENTIALS_SECRET]!).digest("hex") : "adc";
  // The library reads BIGQUERY_EMULATOR_HOST when a client is built, and it then wins over apiEndpoint: both belong to the key.
  const key = JSON.stringify([credentialsHash, request.project, request.apiEndpoint ?? "", process.env["BIGQUERY_EMULATOR_HOST"] ?? "", request.userAgent, request.timeout]);
  let client = clients.get(key);
  if (client) {
    clients.delete(key); // re-insert: most recently used last
  } else {
    // `timeout` (per HTTP request, ms) is a Service option of @google-cloud/common missing from BigQueryOptions' type.
    const options: BigQueryOptions & { timeout: number } = {
      projectId: request.project,
      userAgent: request.userAgent,
      timeout: request.timeout,
      // The connector retries (signal-aware, within the backend's call deadline); the library must not as well.
      retryOptions: { autoRetry: false },
      ...(request.apiEndpoint ? { apiEndpoint: request.apiEndpoint } : {}),
      ...(credentials ? { credentials: credentials as BigQueryOptions["credentials"] } : {}),
    };
    client = new BigQuery(options);
  }
  clients.set(key, client);
  if (clients.size > MAX_CLIENTS) clients.delete(clients.keys().next().value as string);
  return client;
}
