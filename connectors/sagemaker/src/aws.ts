// AWS SDK v3 clients for the SageMaker connectors and the mapping of AWS errors to gRPC statuses.
import { SageMakerClient, type SageMakerClientConfig } from "@aws-sdk/client-sagemaker";
import { SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { ConnectorError, Redactor, type StatusName } from "flyte-connectors";
import type { AwsService } from "./methods.js";

/** Names of the optional per-task secrets (`custom.secrets`) holding static credentials, as flytekit's mixin called them. */
export const AWS_ACCESS_KEY_ID_SECRET = "aws_access_key_id";
export const AWS_SECRET_ACCESS_KEY_SECRET = "aws_secret_access_key";
export const AWS_SESSION_TOKEN_SECRET = "aws_session_token";

export interface AwsClientOptions {
  /**
   * Endpoint URL per service (`{ sagemaker: "https://…", "sagemaker-runtime": "https://…" }`), e.g. a VPC endpoint
   * or a local fake in tests. Default: AWS's endpoint for the task's region.
   */
  endpoints?: Partial<Record<AwsService, string>>;
  /**
   * Credentials for calls whose task carries none. Default: the AWS SDK's default chain, as boto3 (and so flytekit)
   * uses: environment variables, shared config/credentials files and SSO, web identity (EKS IRSA / Pod Identity),
   * ECS container credentials, EC2 instance metadata.
   */
  credentials?: SageMakerClientConfig["credentials"];
  /** Attempts of each AWS call, the SDK retrying throttling, 5xx and connection faults. Default: 3 (the SDK's). */
  maxAttempts?: number;
}

interface SendingClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  destroy(): void;
  config: { credentials?: () => Promise<{ secretAccessKey?: string; sessionToken?: string }> };
}

/** The secret parts of the credentials a client signs with (resolved as the SDK resolves them, cached by it). */
async function secretsOf(client: SendingClient): Promise<string[]> {
  try {
    const identity = await client.config.credentials?.();
    return [identity?.secretAccessKey ?? "", identity?.sessionToken ?? ""].filter((s) => s.length > 0);
  } catch {
    return []; // no credentials: the call itself fails and says so
  }
}

/** Static credentials from the call's secrets, when the task references all needed ones. */
function credentialsFromSecrets(secrets: Readonly<Record<string, string>>): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const accessKeyId = secrets[AWS_ACCESS_KEY_ID_SECRET];
  const secretAccessKey = secrets[AWS_SECRET_ACCESS_KEY_SECRET];
  const sessionToken = secrets[AWS_SESSION_TOKEN_SECRET];
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey) {
    throw new ConnectorError(
      "FAILED_PRECONDITION",
      `AWS credentials in task secrets need both ${AWS_ACCESS_KEY_ID_SECRET} and ${AWS_SECRET_ACCESS_KEY_SECRET} (${AWS_SESSION_TOKEN_SECRET} optional).`,
    );
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/** One SDK client per (service, region) for the deployment's credentials; a fresh one for a task's own credentials. */
export class AwsClients {
  readonly #options: AwsClientOptions;
  readonly #cache = new Map<string, SendingClient>();

  constructor(options: AwsClientOptions = {}) {
    this.#options = { ...options, ...(options.endpoints ? { endpoints: { ...options.endpoints } } : {}) };
  }

  /**
   * Runs `use` with a client of `service` in `region`, and a redactor of the credentials' secret parts (for
   * messages: an AWS error text could quote them). Task secrets (`aws_access_key_id`, …) win over the connector's credentials.
   */
  async with<T>(service: AwsService, region: string, secrets: Readonly<Record<string, string>>, use: (client: SendingClient, redactor: Redactor) => Promise<T>): Promise<T> {
    const own = credentialsFromSecrets(secrets);
    const redactor = Redactor.for(own ? [own.secretAccessKey, own.sessionToken ?? ""].filter((s) => s.length > 0) : []);
    if (own) {
      const client = this.#create(service, region, own);
      try {
        return await use(client, redactor);
      } finally {
        client.destroy();
      }
    }
    const key = `${service}\u0000${region}`;
    let client = this.#cache.get(key);
    if (!client) {
      client = this.#create(service, region, this.#options.credentials);
      this.#cache.set(key, client);
    }
    return use(client, Redactor.for(await secretsOf(client)));
  }

  #create(service: AwsService, region: string, credentials: AwsClientOptions["credentials"]): SendingClient {
    const endpoint = this.#options.endpoints?.[service];
    const config = {
      region,
      ...(endpoint ? { endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      ...(this.#options.maxAttempts !== undefined ? { maxAttempts: this.#options.maxAttempts } : {}),
    };
    return (service === "sagemaker" ? new SageMakerClient(config) : new SageMakerRuntimeClient(config)) as unknown as SendingClient;
  }

  /** Closes the cached clients' connections. */
  close(): void {
    for (const client of this.#cache.values()) client.destroy();
    this.#cache.clear();
  }
}

/** The AWS error code and message of an SDK service error (undefined for other errors). */
export function awsErrorOf(error: unknown): { code: string; message: string; status: number | undefined } | undefined {
  const e = error as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number }; $fault?: unknown } | null;
  if (!e || typeof e !== "object" || (e.$metadata === undefined && e.$fault === undefined) || typeof e.name !== "string") return undefined;
  return { code: e.name, message: typeof e.message === "string" ? e.message : "", status: e.$metadata?.httpStatusCode };
}

// AWS error codes (of SageMaker, SageMaker Runtime and the common AWS JSON errors) → gRPC statuses.
const STATUS_BY_CODE: Readonly<Record<string, StatusName>> = {
  ValidationException: "INVALID_ARGUMENT",
  ValidationError: "INVALID_ARGUMENT",
  SerializationException: "INVALID_ARGUMENT",
  InvalidParameterValue: "INVALID_ARGUMENT",
  InvalidParameterCombination: "INVALID_ARGUMENT",
  MissingParameter: "INVALID_ARGUMENT",
  AccessDeniedException: "PERMISSION_DENIED",
  AccessDenied: "PERMISSION_DENIED",
  NotAuthorized: "PERMISSION_DENIED",
  UnrecognizedClientException: "UNAUTHENTICATED",
  InvalidSignatureException: "UNAUTHENTICATED",
  ExpiredTokenException: "UNAUTHENTICATED",
  ExpiredToken: "UNAUTHENTICATED",
  InvalidClientTokenId: "UNAUTHENTICATED",
  IncompleteSignature: "UNAUTHENTICATED",
  MissingAuthenticationToken: "UNAUTHENTICATED",
  ResourceNotFound: "NOT_FOUND",
  ResourceNotFoundException: "NOT_FOUND",
  ResourceLimitExceeded: "RESOURCE_EXHAUSTED",
  ResourceInUse: "FAILED_PRECONDITION",
  ConflictException: "FAILED_PRECONDITION",
  ModelError: "FAILED_PRECONDITION",
  ModelStreamError: "FAILED_PRECONDITION",
  ThrottlingException: "UNAVAILABLE",
  Throttling: "UNAVAILABLE",
  TooManyRequestsException: "UNAVAILABLE",
  RequestLimitExceeded: "UNAVAILABLE",
  ServiceUnavailable: "UNAVAILABLE",
  ServiceUnavailableException: "UNAVAILABLE",
  InternalFailure: "UNAVAILABLE",
  InternalFailureException: "UNAVAILABLE",
  InternalDependencyException: "UNAVAILABLE",
  InternalStreamFailure: "UNAVAILABLE",
  ModelNotReadyException: "UNAVAILABLE",
};

function statusForHttp(status: number | undefined): StatusName {
  if (status === undefined) return "INTERNAL";
  if (status === 403) return "PERMISSION_DENIED";
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 404) return "NOT_FOUND";
  if (status === 429 || status >= 500) return "UNAVAILABLE";
  if (status >= 400) return "INVALID_ARGUMENT";
  return "INTERNAL";
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT"]);
const MAX_MESSAGE = 1000;

/**
 * A caller-safe error for a failed AWS call, naming the operation (`SageMaker CreateEndpoint failed:
 * ValidationException: …`), with the task's credential secrets redacted. Statuses: ValidationException →
 * INVALID_ARGUMENT, AccessDenied → PERMISSION_DENIED, bad/expired keys → UNAUTHENTICATED, ResourceNotFound →
 * NOT_FOUND, ResourceLimitExceeded → RESOURCE_EXHAUSTED, throttling/5xx/connection faults (after the SDK's retries)
 * → UNAVAILABLE, no credentials → FAILED_PRECONDITION.
 */
export function awsCallError(service: AwsService, operation: string, error: unknown, redactor: Redactor, signal?: AbortSignal): ConnectorError {
  if (signal?.aborted) return ConnectorError.fromAbort(signal, `${serviceLabel(service)} ${operation}`);
  if (error instanceof ConnectorError) return error;
  const label = `${serviceLabel(service)} ${operation} failed`;
  const safe = (text: string): string => {
    const redacted = redactor.redact(text);
    return redacted.length <= MAX_MESSAGE ? redacted : `${redacted.slice(0, MAX_MESSAGE)}…`;
  };
  const aws = awsErrorOf(error);
  if (aws) {
    const status = STATUS_BY_CODE[aws.code] ?? statusForHttp(aws.status);
    return new ConnectorError(status, safe(`${label}: ${aws.code}${aws.message ? `: ${aws.message}` : ""}`), { cause: error });
  }
  const e = error as { name?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown } } | null;
  if (e?.name === "CredentialsProviderError") {
    return new ConnectorError("FAILED_PRECONDITION", safe(`${label}: no AWS credentials: ${String(e.message)}`), { cause: error });
  }
  const code = typeof e?.code === "string" ? e.code : typeof e?.cause?.code === "string" ? e.cause.code : undefined;
  if (e?.name === "TimeoutError" || (code !== undefined && NETWORK_CODES.has(code))) {
    return new ConnectorError("UNAVAILABLE", `${label}: ${code ? `connection failed (${code})` : "the request timed out"}.`, { cause: error });
  }
  return new ConnectorError("INTERNAL", safe(`${label}: ${e && typeof e.message === "string" ? e.message : String(error)}`), { cause: error });
}

function serviceLabel(service: AwsService): string {
  return service === "sagemaker" ? "SageMaker" : "SageMaker Runtime";
}
