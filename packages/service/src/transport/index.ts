// Picks the gRPC transport (`--transport native|grpc-js`): both implement the same contract (types.ts).
import { GrpcJsServer } from "./grpcjs.js";
import { GrpcServer, type NativeTransportOptions } from "./server.js";
import type { TransportKind, TransportServer } from "./types.js";

export type { TransportKind, TransportOptions, TransportServer } from "./types.js";

/** The transports `--transport` accepts. */
export const TRANSPORT_KINDS: readonly TransportKind[] = ["native", "grpc-js"];

/** The default transport. */
export const DEFAULT_TRANSPORT: TransportKind = "native";

/** Options of {@link createTransport}: the common ones, plus the native transport's own (grpc-js ignores those). */
export type CreateTransportOptions = NativeTransportOptions;

/**
 * A gRPC server of the given kind: `native` (node:http2, transport/server.ts) or `grpc-js` (@grpc/grpc-js, loaded
 * only when chosen).
 */
export function createTransport(kind: TransportKind, options: CreateTransportOptions): TransportServer {
  switch (kind) {
    case "native":
      return new GrpcServer(options);
    case "grpc-js":
      return new GrpcJsServer(options);
    default:
      throw new Error(`unknown transport ${String(kind satisfies never)} (expected ${TRANSPORT_KINDS.join(" or ")})`);
  }
}

/** Whether `value` names a transport. */
export function isTransportKind(value: string): value is TransportKind {
  return (TRANSPORT_KINDS as readonly string[]).includes(value);
}
