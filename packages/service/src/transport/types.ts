// The call interface every transport implements (native node:http2 gRPC, @grpc/grpc-js, Connect): the
// service's handlers are written once against it, so a transport is a flag, not a second service.
import type { DescMethod } from "@bufbuild/protobuf";

/**
 * Metadata values: keys are lower case; keys ending in `-bin` carry binary values (base64 on the wire,
 * `Buffer` here), every other key carries strings.
 */
export type MetadataValue = string | Buffer;

/** Metadata a handler sends (response headers or trailers). A `-bin` key takes Buffers, any other key strings. */
export type OutgoingMetadata = Readonly<Record<string, MetadataValue | readonly MetadataValue[]>>;

/** A method the server routes `/<package.Service>/<Method>` to. */
export interface MethodDefinition {
  /** `/<package.Service>/<Method>` */
  readonly path: string;
  /**
   * - `unary`: one request, one answer ({@link ServerCall.respond}).
   * - `server_streaming`: one request, any number of answers ({@link ServerCall.write} … {@link ServerCall.end}).
   * - `bidi_streaming`: the request messages are collected until the client half-closes (as Flyte 1's
   *   ExecuteTaskSync sends them: a header, the inputs, then close), then the handler runs with
   *   {@link ServerCall.requests} and answers as a server-streaming call.
   */
  readonly kind: "unary" | "server_streaming" | "bidi_streaming";
  /**
   * `bidi_streaming` only: called with the messages received so far, after each one; once it returns true the
   * handler runs without waiting for the half-close (messages after that are dropped). Older Flyte 1 propellers
   * (the `agent` plugin) send ExecuteTaskSync's header and inputs, then wait for the answer before closing their
   * side. Default: the handler runs at half-close.
   */
  readonly requestsComplete?: ((requests: readonly unknown[]) => boolean) | undefined;
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): Uint8Array;
  /** The protobuf-es method (transports with their own codecs, e.g. Connect's JSON, use it). Absent for health. */
  readonly schema?: DescMethod | undefined;
  /** Called once the request is decoded; answer through the call. Must not throw (a throw answers INTERNAL). */
  handler(call: ServerCall): void;
}

/** Wire protocol a call arrived on (for logs). */
export type CallProtocol = "grpc" | "grpc-web" | "connect";

/** One call: its request, its signal (aborted on deadline or client cancel) and how to answer it. */
export interface ServerCall {
  readonly method: MethodDefinition;
  readonly protocol: CallProtocol;
  /** The decoded request message (unary and server streaming; the last message of a bidi call). */
  readonly request: unknown;
  /** Every request message of a bidi call, in order (`[request]` for the other kinds). */
  readonly requests: readonly unknown[];
  /** Aborts when the deadline passes (reason: DOMException "TimeoutError") or the client cancels ("AbortError"). */
  readonly signal: AbortSignal;
  /** True once the call has been answered, timed out or cancelled: further answers are dropped. */
  readonly done: boolean;
  /** A request header (metadata) as a single string (the first value; undefined for `-bin` keys). */
  header(name: string): string | undefined;
  /** Every value of a request metadata key; `-bin` values base64-decoded. Empty when absent. */
  metadata(name: string): readonly MetadataValue[];
  /** Sends response headers (metadata) now; at most once, before any message. Ignored when already sent or done. */
  sendHeaders(metadata: OutgoingMetadata): void;
  /**
   * Unary answer: the response message, then `grpc-status: 0` with `trailers`. When the message cannot be
   * encoded, the call is failed with INTERNAL and this throws (so the handler records a failure, not a success).
   */
  respond(message: unknown, trailers?: OutgoingMetadata): void;
  /**
   * Streaming: sends one message. Returns false when the caller should wait for {@link drained} before the next
   * one (flow control), or when the call is over. Like {@link respond}, throws (after failing the call with
   * INTERNAL) when the message cannot be encoded.
   */
  write(message: unknown): boolean;
  /**
   * Resolves when the stream can take more data or the call is over (finished, failed, cancelled, deadline); never
   * rejects. Check {@link done} after it.
   */
  drained(): Promise<void>;
  /** Runs `callback` once when the call finishes, however it finishes (at once if it already has). */
  whenDone(callback: () => void): void;
  /** Streaming: ends the call with `grpc-status: 0` and `trailers`. */
  end(trailers?: OutgoingMetadata): void;
  /**
   * Ends the call with a status (trailers-only when nothing was sent yet). `details`: a serialized
   * `google.rpc.Status` sent as `grpc-status-details-bin`.
   */
  fail(code: number, message: string, options?: { details?: Uint8Array; trailers?: OutgoingMetadata }): void;
}

/**
 * Something that happened below the calls (a refused stream, a connection error, a GOAWAY): counted as
 * `flyte_connector_transport_events_total{event}` and logged (rate-limited) by the service.
 */
export type TransportEventName =
  | "stream_refused"
  | "session_error"
  | "socket_error"
  | "goaway_sent"
  | "goaway_received"
  | "connection_age_closed"
  | "connection_idle_closed"
  | "handshake_timeout"
  | "request_budget_exceeded"
  | "stream_reset_on_shutdown";

export interface TransportEvent {
  readonly event: TransportEventName;
  /** What to log beside it (never a request body or metadata value). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** Options every gRPC transport takes. */
export interface TransportOptions {
  /** Largest request message accepted, in bytes (after decompression). Larger: RESOURCE_EXHAUSTED. */
  maxReceiveMessageBytes: number;
  /** PEM certificate chain and key: TLS (ALPN h2) instead of cleartext h2c. Default: cleartext. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Told about handler bugs (a handler that threw). */
  onHandlerError?: ((error: unknown, path: string) => void) | undefined;
  /** Told about transport events (see {@link TransportEvent}). */
  onEvent?: ((event: TransportEvent) => void) | undefined;
  /**
   * GOAWAY on a connection this many ms (±10%) after it opened: clients reconnect and re-resolve (gRPC's
   * MAX_CONNECTION_AGE). 0: never. Default: 0.
   */
  maxConnectionAgeMs?: number | undefined;
  /**
   * After the age GOAWAY, how long calls still open on the connection may take before it is closed hard (their
   * streams reset with CANCEL). Default: 30000.
   */
  maxConnectionAgeGraceMs?: number | undefined;
  /** GOAWAY on a connection without calls for this many ms (grpc-go's MaxConnectionIdle). 0: never. Default: 0. */
  maxConnectionIdleMs?: number | undefined;
}

/** A gRPC server: methods added, then listen; graceful close (GOAWAY + drain) or destroy. */
export interface TransportServer {
  add(method: MethodDefinition): this;
  /** Binds; resolves with the port. */
  listen(port: number, host: string): Promise<number>;
  /** Graceful: stop listening, GOAWAY every connection; resolves when every connection has closed. */
  close(): Promise<void>;
  /** Hard stop: resets every open call with CANCEL (clients retry it) and closes every connection. */
  destroy(): void;
}

/** Which gRPC server implementation serves the gRPC port. */
export type TransportKind = "native" | "grpc-js";
