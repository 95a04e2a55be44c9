// The gRPC transport on @grpc/grpc-js (the official Node implementation), behind the same call interface as the
// native node:http2 one (`--transport grpc-js`). grpc-js does the protocol: framing, decompression, size limits,
// grpc-timeout, status/trailers, connection age, idle and grace. This adapter maps its calls onto ServerCall:
// messages travel as Buffers (identity serializers) and are decoded/encoded with the method's own codec, so
// decode and encode failures answer as the native transport does.
//
// What grpc-js does not expose is observed on its node:http2 servers (read from the grpc-js Server after bind):
// connections, sessions and streams, for the transport events and two hardening steps (see `#tap`). Events
// observed: socket_error, session_error, goaway_received, goaway_sent, connection_age_closed,
// connection_idle_closed, stream_reset_on_shutdown, handshake_timeout (the adapter's: grpc-js has none). Not
// observable: stream_refused (nghttp2 refuses streams beyond the 1000-stream cap itself, without telling; grpc-js
// sets no session memory cap, the other reason) and request_budget_exceeded (grpc-js has no such budget).
import http2 from "node:http2";
import { createRequire } from "node:module";
import type { Socket } from "node:net";
import type * as grpc from "@grpc/grpc-js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_TIME_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTION_AGE_GRACE_MS,
  HTTP2_SETTINGS,
  MAX_TIMER_MS,
  parseGrpcTimeout,
} from "./server.js";
import { Status } from "./status.js";
import type { MetadataValue, MethodDefinition, OutgoingMetadata, ServerCall, TransportEvent, TransportOptions, TransportServer } from "./types.js";
import { runDoneCallbacks, untilEventOrDone } from "./call-done.js";

const DRAIN = ["drain"] as const;

/**
 * After a call's deadline, how long the response may still sit unsent (a client that stopped reading) before its
 * stream is reset with CANCEL, releasing the memory it holds. grpc-js answers DEADLINE_EXCEEDED at the deadline,
 * but behind queued data that trailer never leaves either.
 */
const STALLED_AFTER_DEADLINE_MS = 1000;

/** A call's deadline may be a few ms before grpc-js's timer fires (its clock is read before the timer starts). */
const DEADLINE_SLACK_MS = 100;

type GrpcJsHandle = grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>;

let grpcModule: typeof grpc | undefined;

/** @grpc/grpc-js, loaded on first use: importing it costs ~0.4 s of start-up, which the native transport need not pay. */
function grpcJs(): typeof grpc {
  return (grpcModule ??= createRequire(import.meta.url)("@grpc/grpc-js") as typeof grpc);
}

function identity(bytes: Buffer): Buffer {
  return bytes;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** grpc-js metadata from the contract's form (`-bin` keys take Buffers, others strings). */
function toMetadata(values: OutgoingMetadata | undefined, details?: Uint8Array): grpc.Metadata {
  const metadata = new (grpcJs().Metadata)();
  if (values) {
    for (const [key, value] of Object.entries(values)) {
      for (const one of Array.isArray(value) ? (value as readonly MetadataValue[]) : [value as MetadataValue]) metadata.add(key, one);
    }
  }
  if (details) metadata.set("grpc-status-details-bin", toBuffer(details));
  return metadata;
}

/** grpc-js percent-encodes `grpc-message` with encodeURI, which throws on a lone surrogate: replace those (U+FFFD). */
function wellFormed(message: string): string {
  return Buffer.from(message, "utf8").toString("utf8");
}

const RECEIVING = 0;
const HANDLING = 1;
const DONE = 2;

/** One call on grpc-js, as the contract's {@link ServerCall}. */
class GrpcJsCall implements ServerCall {
  readonly method: MethodDefinition;
  readonly protocol = "grpc" as const;
  request: unknown = undefined;
  requests: readonly unknown[] = [];
  readonly #controller = new AbortController();
  readonly #call: GrpcJsHandle;
  /** Unary calls answer through grpc-js's callback; streaming ones through the stream. */
  readonly #callback: grpc.sendUnaryData<Buffer> | undefined;
  readonly #server: GrpcJsServer;
  #state = RECEIVING;
  #headersSent = false;
  #onDone: Set<() => void> | undefined = undefined;

  constructor(server: GrpcJsServer, method: MethodDefinition, call: GrpcJsHandle, callback: grpc.sendUnaryData<Buffer> | undefined) {
    this.#server = server;
    this.method = method;
    this.#call = call;
    this.#callback = callback;
    // grpc-js emits "cancelled" when the client resets the stream, when its deadline timer answered
    // DEADLINE_EXCEEDED, and after every status it sent (then the call is already done here).
    (call as NodeJS.EventEmitter).once("cancelled", () => this.#cancelled());
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get done(): boolean {
    return this.#state === DONE;
  }

  header(name: string): string | undefined {
    const value = this.#call.metadata.get(name)[0];
    return typeof value === "string" ? value : undefined;
  }

  metadata(name: string): readonly MetadataValue[] {
    return this.#call.metadata.get(name);
  }

  sendHeaders(metadata: OutgoingMetadata): void {
    if (this.#state === DONE || this.#headersSent) return;
    const headers = this.#metadata(metadata);
    this.#headersSent = true;
    this.#call.sendMetadata(headers);
  }

  respond(message: unknown, trailers?: OutgoingMetadata): void {
    if (this.#state === DONE) return;
    const bytes = this.#encode(message);
    const metadata = trailers ? this.#metadata(trailers) : undefined;
    this.#finish();
    this.#callback!(null, bytes, metadata);
  }

  write(message: unknown): boolean {
    if (this.#state === DONE) return false;
    const bytes = this.#encode(message);
    this.#headersSent = true;
    return (this.#call as grpc.ServerWritableStream<Buffer, Buffer>).write(bytes);
  }

  drained(): Promise<void> {
    if (this.#state === DONE) return Promise.resolve();
    // No "close" here: grpc-js reports the end of a call through its own events, which finish the call.
    return untilEventOrDone((this.#onDone ??= new Set()), this.#call as grpc.ServerWritableStream<Buffer, Buffer>, DRAIN);
  }

  whenDone(callback: () => void): void {
    if (this.#state === DONE) callback();
    else (this.#onDone ??= new Set()).add(callback);
  }

  end(trailers?: OutgoingMetadata): void {
    if (this.#state === DONE) return;
    const metadata = trailers ? this.#metadata(trailers) : undefined;
    this.#finish();
    (this.#call as grpc.ServerWritableStream<Buffer, Buffer>).end(metadata);
  }

  fail(code: number, message: string, options: { details?: Uint8Array; trailers?: OutgoingMetadata } = {}): void {
    if (this.#state === DONE) return;
    this.#finish();
    let metadata: grpc.Metadata;
    try {
      metadata = toMetadata(options.trailers, options.details);
    } catch (error) {
      // Trailers a handler built wrong must not leave the call unanswered.
      this.#server.handlerError(error, this.method.path);
      metadata = new (grpcJs().Metadata)();
    }
    const status = { code, details: wellFormed(message), metadata };
    if (this.#callback) this.#callback(status);
    // A streaming call's status follows the messages already written (grpc-js ends the stream with it).
    else this.#call.emit("error", status);
  }

  /** @internal the decoded request(s): run the handler. */
  run(requests: readonly unknown[]): void {
    if (this.#state !== RECEIVING) return;
    this.requests = requests;
    this.request = requests[requests.length - 1];
    this.#state = HANDLING;
    try {
      this.method.handler(this);
    } catch (error) {
      this.#server.handlerError(error, this.method.path);
      this.fail(Status.INTERNAL, "Internal error");
    }
  }

  /** Metadata a handler gave; keys or values grpc-js refuses fail the call with INTERNAL and throw (a handler bug). */
  #metadata(values: OutgoingMetadata): grpc.Metadata {
    try {
      return toMetadata(values);
    } catch (error) {
      this.#server.handlerError(error, this.method.path);
      this.fail(Status.INTERNAL, "Internal error");
      throw error;
    }
  }

  /** Encodes a response message; when it cannot be, fails the call with INTERNAL and throws (the contract). */
  #encode(message: unknown): Buffer {
    try {
      return toBuffer(this.method.encode(message));
    } catch (error) {
      this.#server.handlerError(error, this.method.path);
      this.fail(Status.INTERNAL, "Failed to send a response message.");
      throw error;
    }
  }

  #cancelled(): void {
    if (this.#state === DONE) return;
    this.#finish();
    const deadline = this.#call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    this.#controller.abort(
      Number.isFinite(ms) && Date.now() >= ms - DEADLINE_SLACK_MS
        ? new DOMException("The call's deadline passed.", "TimeoutError")
        : new DOMException("The client cancelled the call.", "AbortError"),
    );
  }

  #finish(): void {
    this.#state = DONE;
    this.#server.calls.delete(this);
    const callbacks = this.#onDone;
    this.#onDone = undefined;
    runDoneCallbacks(callbacks, (error) => this.#server.handlerError(error, this.method.path));
  }
}

/** grpc-js's own node:http2 servers (a private field; absent in another grpc-js version: then nothing is observed). */
interface GrpcJsInternals {
  http2Servers?: Map<http2.Http2Server | http2.Http2SecureServer, unknown>;
}

/** Per-session state for the events. */
interface SessionInfo {
  goawaySent: boolean;
  /** Streams open on the connection (reset with CANCEL when it is closed hard). */
  streams: Set<http2.ServerHttp2Stream>;
}

const kInfo = Symbol("grpcJsSessionInfo");
type TappedSession = http2.ServerHttp2Session & { [kInfo]?: SessionInfo };

/** Options of the grpc-js transport. */
export interface GrpcJsTransportOptions extends TransportOptions {
  /**
   * The server PINGs every connection this often (grpc-js's keepalive); one that does not answer within
   * {@link keepaliveTimeoutMs} is closed. 0: never. Default: as the native transport, DEFAULT_KEEPALIVE_TIME_MS.
   */
  keepaliveTimeMs?: number | undefined;
  /** See {@link keepaliveTimeMs}. Default: DEFAULT_KEEPALIVE_TIMEOUT_MS. */
  keepaliveTimeoutMs?: number | undefined;
  /**
   * A connection whose HTTP/2 preface and SETTINGS have not arrived this many ms after it opened (after TLS, whose
   * own handshake keeps Node's 120 s timeout: grpc-js builds the TLS server) is closed. 0: never.
   * Default: as the native transport, DEFAULT_HANDSHAKE_TIMEOUT_MS.
   */
  handshakeTimeoutMs?: number | undefined;
}

/** A gRPC server on @grpc/grpc-js behind the transport contract. */
export class GrpcJsServer implements TransportServer {
  readonly #server: grpc.Server;
  readonly #options: GrpcJsTransportOptions;
  readonly #sessions = new Set<TappedSession>();
  /** @internal calls whose handler runs (reset on destroy). */
  readonly calls = new Set<GrpcJsCall>();
  #closing = false;
  #destroying = false;
  #closed: Promise<void> | undefined;

  constructor(options: GrpcJsTransportOptions) {
    this.#options = options;
    const channelOptions: grpc.ServerOptions = {
      "grpc.max_receive_message_length": options.maxReceiveMessageBytes,
      "grpc.max_send_message_length": -1,
      // As the native transport: a client's calls beyond it queue (grpc-go) rather than open without bound.
      "grpc.max_concurrent_streams": HTTP2_SETTINGS.maxConcurrentStreams,
      // Channelz keeps per-call statistics nobody reads here; sessions are tracked by this adapter instead.
      "grpc.enable_channelz": 0,
    };
    // The grace after the age GOAWAY is this adapter's (see #tapSession): grpc-js's own destroys the connection
    // with NO_ERROR, which grpc-go and C-core clients read as INTERNAL for the calls it cuts.
    const age = options.maxConnectionAgeMs ?? 0;
    if (age > 0) channelOptions["grpc.max_connection_age_ms"] = Math.min(age, MAX_TIMER_MS);
    const idle = options.maxConnectionIdleMs ?? 0;
    if (idle > 0) channelOptions["grpc.max_connection_idle_ms"] = Math.min(idle, MAX_TIMER_MS);
    // Keepalive: a grpc-js server enforces no ping policy (it never answers GOAWAY too_many_pings), so the
    // backend's pings every 30 s, with or without calls, need no permit option. Its own pings find dead peers.
    const keepalive = options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS;
    if (keepalive > 0) {
      channelOptions["grpc.keepalive_time_ms"] = Math.min(keepalive, MAX_TIMER_MS);
      channelOptions["grpc.keepalive_timeout_ms"] = Math.min(options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS, MAX_TIMER_MS);
    }
    this.#server = new (grpcJs().Server)(channelOptions);
  }

  add(method: MethodDefinition): this {
    const type = method.kind === "unary" ? "unary" : method.kind === "server_streaming" ? "serverStream" : "bidi";
    const handler =
      method.kind === "unary"
        ? (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => this.#single(method, call, callback)
        : method.kind === "server_streaming"
          ? (call: grpc.ServerWritableStream<Buffer, Buffer>) => this.#single(method, call, undefined)
          : (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.#bidi(method, call);
    this.#server.unregister(method.path);
    this.#server.register(method.path, handler as grpc.handleUnaryCall<Buffer, Buffer>, identity, identity, type);
    return this;
  }

  listen(port: number, host: string): Promise<number> {
    const credentials = this.#options.tls
      ? grpcJs().ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(this.#options.tls.cert), private_key: Buffer.from(this.#options.tls.key) }], false)
      : grpcJs().ServerCredentials.createInsecure();
    const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, credentials, (error, bound) => {
        if (error) return reject(withSocketCode(error));
        const servers = (this.#server as unknown as GrpcJsInternals).http2Servers;
        if (servers instanceof Map) for (const server of servers.keys()) this.#tap(server);
        resolve(bound);
      });
    });
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#closing = true;
      this.#server.tryShutdown(() => resolve());
    });
    return this.#closed;
  }

  destroy(): void {
    if (this.#destroying) return;
    this.#destroying = true;
    void this.close();
    for (const call of this.calls) this.#emit({ event: "stream_reset_on_shutdown", detail: { path: call.method.path } });
    this.#server.forceShutdown();
    // forceShutdown only reaches the sessions channelz tracks (off here): end the rest the same way, with CANCEL.
    for (const session of this.#sessions) {
      closeHard(session);
    }
  }

  /** @internal a handler (or its trailers) threw. */
  handlerError(error: unknown, path: string): void {
    try {
      this.#options.onHandlerError?.(error, path);
    } catch {
      // a failing error reporter must not take the call down with it
    }
  }

  /** Unary and server streaming: grpc-js has checked there is exactly one request message. */
  #single(method: MethodDefinition, handle: grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer> | undefined): void {
    const call = new GrpcJsCall(this, method, handle, callback);
    let request: unknown;
    try {
      request = method.decode(handle.request);
    } catch (error) {
      call.fail(Status.INTERNAL, `Failed to parse the request message: ${errorMessage(error)}`);
      return;
    }
    this.calls.add(call);
    call.run([request]);
  }

  /**
   * Bidi: the request messages are collected until the client half-closes (or, with `requestsComplete`, until it
   * says they are complete; later messages are dropped), then the handler runs.
   */
  #bidi(method: MethodDefinition, handle: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    const call = new GrpcJsCall(this, method, handle, undefined);
    const requests: unknown[] = [];
    let received = 0;
    let started = false;
    const start = () => {
      if (started || call.done) return;
      started = true;
      this.calls.add(call);
      call.run(requests);
    };
    const onData = (bytes: Buffer) => {
      if (started || call.done) return;
      // Each message is bounded by grpc-js; the collected ones together by twice that (as the native transport).
      received += bytes.length;
      const max = 2 * this.#options.maxReceiveMessageBytes;
      if (received > max) {
        call.fail(Status.RESOURCE_EXHAUSTED, `Request messages larger than max together (${received} vs. ${max})`);
        return;
      }
      try {
        requests.push(method.decode(bytes));
      } catch (error) {
        call.fail(Status.INTERNAL, `Failed to parse the request message: ${errorMessage(error)}`);
        return;
      }
      let complete = false;
      try {
        complete = method.requestsComplete?.(requests) ?? false;
      } catch (error) {
        this.handlerError(error, method.path);
        call.fail(Status.INTERNAL, "Internal error");
        return;
      }
      if (complete) start();
    };
    // Reading on after the handler started drains what the client still sends (dropped), so it is never blocked.
    handle.on("data", onData);
    handle.once("end", start);
    // A cancelled duplex is destroyed by grpc-js; its errors are the call's end, already handled.
    handle.on("error", noop);
  }

  #emit(event: TransportEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // a failing listener must not break the transport
    }
  }

  /**
   * Observes one of grpc-js's node:http2 servers: socket and session errors, GOAWAYs both ways, connection age
   * and idle closes (by wrapping the session's goaway/destroy, which grpc-js calls for them). Two hardening
   * steps: a grpc-timeout longer than a Node timer holds is dropped (grpc-js would overflow it into an immediate
   * DEADLINE_EXCEEDED; the native transport treats it as no deadline), and a response still unsent
   * {@link STALLED_AFTER_DEADLINE_MS} after the deadline (a client that stopped reading) is reset with CANCEL.
   */
  #tap(server: http2.Http2Server | http2.Http2SecureServer): void {
    server.on("connection", (socket: Socket) => {
      socket.on("error", (error: NodeJS.ErrnoException) => this.#emit({ event: "socket_error", detail: { code: error.code ?? error.message } }));
    });
    (server as NodeJS.EventEmitter).on("tlsClientError", (error: NodeJS.ErrnoException) =>
      this.#emit({ event: error.code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? "handshake_timeout" : "socket_error", detail: { tls: true, code: error.code ?? error.message } }),
    );
    server.on("sessionError", (error: NodeJS.ErrnoException) => this.#emit({ event: "session_error", detail: { code: error.code ?? error.message } }));
    server.on("session", (session: TappedSession) => this.#tapSession(session));
    server.prependListener("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      const streams = (stream.session as TappedSession | null)?.[kInfo]?.streams;
      if (streams) {
        streams.add(stream);
        stream.once("close", () => streams.delete(stream));
      }
      const timeout = parseGrpcTimeout(headers["grpc-timeout"]);
      if (timeout === undefined || Number.isNaN(timeout)) return;
      if (timeout > MAX_TIMER_MS - STALLED_AFTER_DEADLINE_MS) {
        delete headers["grpc-timeout"];
        return;
      }
      const timer = setTimeout(() => {
        if (!stream.closed && !stream.destroyed && stream.writableLength > 0) {
          try {
            stream.close(http2.constants.NGHTTP2_CANCEL);
          } catch {
            // already gone
          }
        }
      }, timeout + STALLED_AFTER_DEADLINE_MS);
      timer.unref();
      stream.once("close", () => clearTimeout(timer));
    });
  }

  #tapSession(session: TappedSession): void {
    const info: SessionInfo = { goawaySent: false, streams: new Set() };
    session[kInfo] = info;
    this.#sessions.add(session);
    let graceTimer: NodeJS.Timeout | undefined;
    let handshakeTimer: NodeJS.Timeout | undefined;
    session.once("close", () => {
      this.#sessions.delete(session);
      clearTimeout(graceTimer);
      clearTimeout(handshakeTimer);
    });
    const handshake = this.#options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (handshake > 0) {
      // The session exists from the first byte (h2c) or once TLS is up; the client's SETTINGS complete the preface.
      handshakeTimer = setTimeout(() => {
        this.#emit({ event: "handshake_timeout", detail: { timeoutMs: handshake } });
        session.destroy();
      }, Math.min(handshake, MAX_TIMER_MS));
      handshakeTimer.unref();
      session.once("remoteSettings", () => clearTimeout(handshakeTimer));
    }
    session.on("goaway", (code: number) => this.#emit({ event: "goaway_received", detail: { code } }));
    const goaway = session.goaway;
    if (typeof goaway !== "function") return;
    // grpc-js sends the age GOAWAY itself (opaque data "max_age"), then close(); close() (age, idle, shutdown)
    // sends one through goaway() too. One goaway_sent per connection, with why.
    session.goaway = (code?: number, lastStreamID?: number, opaqueData?: NodeJS.ArrayBufferView) => {
      if (!info.goawaySent) {
        info.goawaySent = true;
        const age = opaqueData !== undefined && Buffer.from(opaqueData.buffer, opaqueData.byteOffset, opaqueData.byteLength).toString() === "max_age";
        const reason = age ? "max_connection_age" : this.#closing ? "shutdown" : "idle";
        this.#emit({ event: "goaway_sent", detail: { reason } });
        if (reason === "idle") this.#emit({ event: "connection_idle_closed" });
        if (age) graceTimer = this.#startAgeGrace(session);
      }
      return goaway.call(session, code, lastStreamID, opaqueData);
    };
  }

  /** After the age GOAWAY: calls still open when the grace ends are cut, the connection closed with CANCEL. */
  #startAgeGrace(session: TappedSession): NodeJS.Timeout {
    const grace = Math.min(this.#options.maxConnectionAgeGraceMs ?? DEFAULT_MAX_CONNECTION_AGE_GRACE_MS, MAX_TIMER_MS);
    const timer = setTimeout(() => {
      if (session.destroyed) return;
      this.#emit({ event: "connection_age_closed", detail: { streams: session[kInfo]?.streams.size ?? 0 } });
      closeHard(session);
    }, grace);
    timer.unref();
    return timer;
  }
}

function noop(): void {}

/**
 * Closes a connection at once: each open stream reset with CANCEL first (destroying the session alone resets them
 * with NO_ERROR, which grpc-go and C-core clients read as INTERNAL; CANCEL they retry), then the session.
 */
function closeHard(session: TappedSession): void {
  if (session.destroyed) return;
  for (const stream of session[kInfo]?.streams ?? []) {
    try {
      stream.close(http2.constants.NGHTTP2_CANCEL);
    } catch {
      // already gone
    }
  }
  session.destroy(undefined, http2.constants.NGHTTP2_CANCEL);
}

/**
 * grpc-js reports a failed bind as one message ("No address added … [listen EADDRINUSE: …]", "Name resolution
 * failed …") without the socket error's code: put it back, so the failure is reported as the native transport's
 * (ListenError names the flag and the cause).
 */
function withSocketCode(error: Error): Error {
  if ((error as NodeJS.ErrnoException).code !== undefined) return error;
  const code = /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN)\b/.exec(error.message)?.[1] ?? (/^Name resolution failed/.test(error.message) ? "ENOTFOUND" : undefined);
  return code ? Object.assign(error, { code }) : error;
}
