import { Status } from "./transport/status.js";

/** gRPC status names the core SDK throws (ConnectorError.code) → gRPC status numbers: the names of {@link Status}. */
const GRPC_CODES: ReadonlyMap<string, Status> = new Map(Object.entries(Status));

/**
 * gRPC status → the HTTP-style `error_code` label of `flyte_connector_requests_failure_total`, following the
 * grpc-gateway mapping (the Python service labels NOT_FOUND 404 and everything else 500).
 */
const HTTP_CODES: Readonly<Record<number, string>> = {
  [Status.CANCELLED]: "499",
  [Status.UNKNOWN]: "500",
  [Status.INVALID_ARGUMENT]: "400",
  [Status.DEADLINE_EXCEEDED]: "504",
  [Status.NOT_FOUND]: "404",
  [Status.ALREADY_EXISTS]: "409",
  [Status.PERMISSION_DENIED]: "403",
  [Status.RESOURCE_EXHAUSTED]: "429",
  [Status.FAILED_PRECONDITION]: "400",
  [Status.ABORTED]: "409",
  [Status.OUT_OF_RANGE]: "400",
  [Status.UNIMPLEMENTED]: "501",
  [Status.INTERNAL]: "500",
  [Status.UNAVAILABLE]: "503",
  [Status.DATA_LOSS]: "500",
  [Status.UNAUTHENTICATED]: "401",
};

export function grpcCode(name: string): Status {
  return GRPC_CODES.get(name) ?? Status.INTERNAL;
}

export function httpCode(code: number): string {
  return HTTP_CODES[code] ?? "500";
}

/** Longest grpc-message sent (in characters); the core SDK already cuts at 4096, this is a backstop. */
export const MAX_STATUS_MESSAGE = 4096;

export function cutMessage(message: string): string {
  return message.length <= MAX_STATUS_MESSAGE ? message : `${message.slice(0, MAX_STATUS_MESSAGE)}… (truncated)`;
}
