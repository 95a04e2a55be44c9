// How failures of EMR Serverless API calls (made through the AWS SDK v3 client, which has already retried throttling,
// 5xx and broken connections by then) become caller-safe ConnectorErrors.
import { ConnectorError, Redactor, type StatusName } from "flyte-connectors";
import { describeFault, isTransient, statusNameForHttp } from "flyte-connectors/http";


/** The fields of an AWS SDK v3 service exception this module reads. */
interface AwsError {
  name: string;
  message: string;
  $fault?: "client" | "server";
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** An error reply of an AWS API (a modeled or unmodeled service exception), as opposed to a local or network fault. */
export function awsError(error: unknown): AwsError | undefined {
  const candidate = error as Partial<AwsError> | null;
  return candidate && typeof candidate === "object" && typeof candidate.name === "string" && typeof candidate.$metadata?.httpStatusCode === "number"
    ? (candidate as AwsError)
    : undefined;
}

export function isAwsError(error: unknown, ...names: string[]): boolean {
  const aws = awsError(error);
  return aws !== undefined && names.includes(aws.name);
}

// Error codes AWS services answer for throttling (the SDK's own list, plus the common spellings).
const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestThrottled",
  "RequestThrottledException",
  "RequestLimitExceeded",
  "SlowDown",
  "ProvisionedThroughputExceededException",
  "TransactionInProgressException",
  "BandwidthLimitExceeded",
  "LimitExceededException",
  "EC2ThrottledException",
]);
const PERMISSION = new Set(["AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnauthorizedException", "NotAuthorized"]);
// The request's credentials were refused: the deployment must fix them (FAILED_PRECONDITION, as the core maps 401).
const CREDENTIALS = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "InvalidClientTokenId",
  "MissingAuthenticationToken",
  "MissingAuthenticationTokenException",
  "ExpiredToken",
  "ExpiredTokenException",
  "RequestExpired",
]);

/** The gRPC status name for an AWS error reply. */
function statusOf(error: AwsError): StatusName {
  const status = error.$metadata?.httpStatusCode ?? 0;
  if (THROTTLING.has(error.name) || error.name === "InternalServerException" || error.name === "ServiceUnavailableException" || error.$retryable || status === 429 || status >= 500) {
    return "UNAVAILABLE";
  }
  if (error.name === "ValidationException" || error.name === "SerializationException" || error.name === "InvalidParameterException") return "INVALID_ARGUMENT";
  if (PERMISSION.has(error.name)) return "PERMISSION_DENIED";
  if (CREDENTIALS.has(error.name)) return "FAILED_PRECONDITION";
  if (error.name === "ResourceNotFoundException") return "NOT_FOUND";
  if (error.name === "ConflictException") return "ALREADY_EXISTS";
  // A quota (e.g. concurrent job runs) frees up as runs finish: worth a later attempt.
  if (error.name === "ServiceQuotaExceededException") return "UNAVAILABLE";
  if (status === 403) return "PERMISSION_DENIED";
  return statusNameForHttp(status);
}

/**
 * A caller-safe error for a failed EMR Serverless call: the gRPC code for the AWS error, a message naming the
 * operation, what it was about (application, job run) and AWS's error code and message, with `secrets` (the
 * credentials in use) removed. The AWS error stays the cause, for logs only.
 */
export function emrCallError(operation: string, target: string, error: unknown, signal: AbortSignal, secrets: readonly string[]): ConnectorError {
  if (error instanceof ConnectorError) return error;
  if (signal.aborted) return ConnectorError.fromAbort(signal, `EMR Serverless ${operation}`);
  const redactor = Redactor.for(secrets.filter((secret) => secret.length >= 4));
  return classify(operation, target, redactedCopy(error, redactor), redactor);
}

/**
 * `error` with the credentials removed from its message and stack (the service logs the cause of INTERNAL errors;
 * a careless upstream may echo the request's credentials into its error message).
 */
function redactedCopy(error: unknown, redactor: Redactor): unknown {
  if (!(error instanceof Error) || redactor.empty) return error;
  const copy = Object.assign(new Error(redactor.redact(error.message)), {
    name: error.name,
    ...Object.fromEntries(["$fault", "$retryable", "$metadata", "code"].filter((key) => key in error).map((key) => [key, (error as unknown as Record<string, unknown>)[key]])),
  });
  copy.stack = redactor.redact(error.stack ?? "");
  return copy;
}

function classify(operation: string, target: string, error: unknown, redactor: Redactor): ConnectorError {
  const prefix = `EMR Serverless ${operation} for ${target} failed`;
  const aws = awsError(error);
  if (aws) {
    const code = statusOf(aws);
    const message = aws.message && aws.message !== "UnknownError" ? `: ${aws.message}` : "";
    const retried = code === "UNAVAILABLE" ? " (still failing after the AWS SDK's retries)" : "";
    return new ConnectorError(code, redactor.redact(`${prefix}: ${aws.name}${message}${retried}`.slice(0, 2000)), { cause: error });
  }
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "CredentialsProviderError") {
    return new ConnectorError(
      "FAILED_PRECONDITION",
      `${prefix}: the connector found no AWS credentials (environment, shared config and credentials files, SSO, web identity, container or instance metadata).`,
      { cause: error },
    );
  }
  const text = error instanceof Error ? error.message : String(error);
  if (/region is missing/i.test(text)) {
    return new ConnectorError("FAILED_PRECONDITION", `${prefix}: no AWS region: set custom.region on the task, or AWS_REGION for the connector.`, { cause: error });
  }
  if (isTransient(error)) return new ConnectorError("UNAVAILABLE", `${prefix}: ${describeFault(error)}`, { cause: error });
  return new ConnectorError("INTERNAL", redactor.redact(`${prefix}: ${describeFault(error)}`), { cause: error });
}
