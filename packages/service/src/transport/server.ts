// A small gRPC server on node:http2: unary and server-streaming calls, what the connector service needs.
// Implements the gRPC-over-HTTP2 protocol (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) for
// servers: content-type check, path routing (unknown → UNIMPLEMENTED, trailers-only), length-prefixed framing,
// one request message, gzip/deflate request messages, max receive size, grpc-timeout deadlines, client cancel,
// percent-encoded grpc-message, backpressure, graceful shutdown (GOAWAY, drain, destroy).
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { Status, encodeGrpcMessage } from "./status.js";

/** A method the server routes `/<package.Service>/<Method>` to. */
export interface MethodDefinition {
  /** `/<package.Service>/<Method>` */
  readonly path: string;
  /** Unary (one answer message) or server streaming (any number). Client/bidi streaming are not supported. */
  readonly kind: "unary" | "server_streaming";
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): Uint8Array;
  /** Called once the request message is decoded; answer through the call. Must not throw (a throw answers INTERNAL). */
  handler(call: ServerCall): void;
}

export interface GrpcServerOptions {
  /** Largest request message accepted, in bytes (after decompression). Larger: RESOURCE_EXHAUSTED. */
  maxReceiveMessageBytes: number;
  /** PEM certificate chain and key: TLS (ALPN h2) instead of cleartext h2c. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Told about handler bugs (a handler that threw). */
  onHandlerError?: (error: unknown, path: string) => void;
  /**
   * Send GOAWAY on a connection this many milliseconds (±10%, so clients do not all reconnect at once) after it
   * opened; its calls in flight finish, new ones go to a new connection. Clients re-resolve their target then,
   * which is how the replicas a scale-up added get traffic (gRPC's MAX_CONNECTION_AGE). Default: 0, never.
   */
  maxConnectionAgeMs?: number;
}

/**
 * HTTP/2 settings. `maxConcurrentStreams` bounds the calls one connection may have open (grpc-go clients queue
 * streams beyond it instead of failing); the per-stream and connection receive windows are raised from the
 * HTTP/2 default of 64 KiB so large CreateTask requests upload without waiting for WINDOW_UPDATEs;
 * `maxSessionMemory` (MB) is what one connection may buffer in nghttp2 before new streams are refused.
 */
export const HTTP2_SETTINGS = {
  maxConcurrentStreams: 1000,
  initialWindowSize: 1024 * 1024,
  maxHeaderListSize: 64 * 1024,
} as const;
const CONNECTION_WINDOW = 8 * 1024 * 1024;
const MAX_SESSION_MEMORY_MB = 64;

const ACCEPT_ENCODING = "identity,deflate,gzip";
/** Response headers of every call (frozen: node:http2 copies them). */
const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = Object.freeze({ ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": ACCEPT_ENCODING });
/** Longest timer Node can set (2^31 − 1 ms, ~24.8 days); longer ones fire at once with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` → milliseconds; undefined when absent; NaN when malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === "string" ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  if (!match) return NaN;
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}

const RECEIVING = 0;
const HANDLING = 1;
const DONE = 2;

const kCall = Symbol("grpcCall");
type Stream = http2.ServerHttp2Stream & { [kCall]?: ServerCall };

function noop(): void {}

/** One call: its request, its signal (aborted on deadline or client cancel) and how to answer it. */
export class ServerCall {
  /** The decoded request message (set before the handler runs). */
  request: unknown = undefined;
  readonly headers: http2.IncomingHttpHeaders;
  readonly method: MethodDefinition;
  readonly #controller = new AbortController();
  readonly #stream: Stream;
  readonly #max: number;
  #state = RECEIVING;
  #first: Buffer | undefined = undefined;
  #rest: Buffer[] | undefined = undefined;
  #received = 0;
  #expected = -1;
  #timer: NodeJS.Timeout | undefined = undefined;
  #trailers: http2.OutgoingHttpHeaders | undefined = undefined;
  /** Run once when the call finishes (answered, failed, timed out or cancelled). */
  #onDone: Set<() => void> | undefined = undefined;
  #onError: ((error: unknown, path: string) => void) | undefined;

  constructor(stream: Stream, headers: http2.IncomingHttpHeaders, method: MethodDefinition, max: number, onError: GrpcServerOptions["onHandlerError"]) {
    this.#stream = stream;
    this.headers = headers;
    this.method = method;
    this.#max = max;
    this.#onError = onError;
  }

  /** Aborts when the deadline passes (reason: DOMException "TimeoutError") or the client cancels ("AbortError"). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the call has been answered, timed out or cancelled: further answers are dropped. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** A request header (metadata) as a single string. */
  header(name: string): string | undefined {
    const value = this.headers[name];
    return typeof value === "string" ? value : undefined;
  }

  /** Unary answer: the response message, then `grpc-status: 0`. */
  respond(message: unknown): void {
    if (this.#state === DONE) return;
    this.#finish();
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    try {
      const frame = this.#frame(message);
      stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
      stream.once("wantTrailers", onWantTrailers);
      stream.end(frame);
    } catch (error) {
      this.#onError?.(error, this.method.path);
      this.#closeStream();
    }
  }

  /**
   * Server streaming: sends one message. Returns false when the caller should wait for {@link drained} before
   * the next one (HTTP/2 flow control), or when the call is over.
   */
  write(message: unknown): boolean {
    if (this.#state === DONE) return false;
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return false;
    try {
      const frame = this.#frame(message);
      if (!stream.headersSent) {
        stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
        stream.once("wantTrailers", onWantTrailers);
      }
      return stream.write(frame);
    } catch (error) {
      this.#onError?.(error, this.method.path);
      this.fail(Status.INTERNAL, "Failed to send a response message.");
      return false;
    }
  }

  /**
   * Resolves when the stream can take more data, or when the call is over — it finished (deadline passed, failed,
   * cancelled) or its stream closed — whichever comes first; never rejects. Check {@link done} after it: a call
   * whose deadline passed while the client was not reading resolves here and is done.
   */
  drained(): Promise<void> {
    if (this.#state === DONE) return Promise.resolve();
    return new Promise((resolve) => {
      const stream = this.#stream;
      const waiters = (this.#onDone ??= new Set());
      const done = () => {
        stream.off("drain", done);
        stream.off("close", done);
        waiters.delete(done);
        resolve();
      };
      stream.on("drain", done);
      stream.on("close", done);
      waiters.add(done);
    });
  }

  /** Runs `callback` once when the call finishes, however it finishes (at once if it already has). */
  whenDone(callback: () => void): void {
    if (this.#state === DONE) callback();
    else (this.#onDone ??= new Set()).add(callback);
  }

  /** Server streaming: ends the call with `grpc-status: 0`. */
  end(): void {
    if (this.#state === DONE) return;
    if (!this.#stream.headersSent) return this.fail(Status.OK, "");
    this.#finish();
    try {
      this.#stream.end();
    } catch {
      this.#closeStream();
    }
  }

  /** Ends the call with a status (trailers-only when nothing was sent yet). */
  fail(code: number, message: string): void {
    if (this.#state === DONE) return;
    this.#finish();
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    try {
      if (!stream.headersSent) {
        trailersOnly(stream, code, message);
      } else {
        this.#trailers = statusTrailers(code, message);
        stream.end();
      }
    } catch {
      this.#closeStream();
    }
  }

  /** @internal the trailers `wantTrailers` sends. */
  takeTrailers(): http2.OutgoingHttpHeaders {
    return this.#trailers ?? { "grpc-status": "0" };
  }

  #frame(message: unknown): Buffer {
    const bytes = this.method.encode(message);
    const frame = Buffer.allocUnsafe(5 + bytes.byteLength);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.byteLength, 1);
    frame.set(bytes, 5);
    return frame;
  }

  #finish(): void {
    this.#state = DONE;
    this.#first = this.#rest = undefined;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const callbacks = this.#onDone;
    if (callbacks) {
      this.#onDone = undefined;
      for (const callback of callbacks) {
        try {
          callback();
        } catch (error) {
          this.#onError?.(error, this.method.path);
        }
      }
    }
  }

  #closeStream(): void {
    try {
      this.#stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    } catch {
      // already gone
    }
  }

  /** @internal a deadline beyond what a timer can hold (~24.8 days; grpc-go sends e.g. `2592000S`) is none. */
  startDeadline(ms: number): void {
    if (ms <= MAX_TIMER_MS) this.#timer = setTimeout(onDeadline, Math.max(0, ms), this);
  }

  /**
   * @internal the deadline passed: answer DEADLINE_EXCEEDED now, then abort the handler's signal. When response
   * data is still queued (a client that does not read: flow control would hold the trailers, maybe forever) the
   * stream is reset with CANCEL instead, as grpc-go's server does.
   */
  deadline(): void {
    this.#timer = undefined;
    if (this.#state === DONE) return;
    this.fail(Status.DEADLINE_EXCEEDED, "Deadline exceeded");
    const stream = this.#stream;
    if (stream.writableLength > 0 && !stream.closed && !stream.destroyed) {
      try {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        // already gone
      }
    }
    this.#controller.abort(new DOMException("The call's deadline passed.", "TimeoutError"));
  }

  /** @internal the stream closed (answered, or reset by the client). */
  closed(): void {
    if (this.#state === DONE) return;
    this.#finish();
    this.#controller.abort(new DOMException("The client cancelled the call.", "AbortError"));
  }

  /** @internal request bytes. */
  data(chunk: Buffer): void {
    if (this.#state !== RECEIVING) return;
    this.#received += chunk.length;
    if (this.#first === undefined) this.#first = chunk;
    else (this.#rest ??= [this.#first]).push(chunk);
    if (this.#expected < 0 && this.#received >= 5) {
      const head = this.#first.length >= 5 ? this.#first : Buffer.concat(this.#rest!, this.#received);
      const length = head.readUInt32BE(1);
      if (length > this.#max) {
        this.fail(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.#max})`);
        return;
      }
      this.#expected = 5 + length;
    }
    if (this.#expected >= 0 && this.#received > this.#expected) {
      this.fail(Status.INTERNAL, `More than one request message for ${this.method.kind} method ${this.method.path}`);
    }
  }

  /** @internal the client finished sending: decode the one message and run the handler. */
  end_(): void {
    if (this.#state !== RECEIVING) return;
    if (this.#expected < 0 || this.#received < this.#expected) {
      this.fail(Status.INTERNAL, this.#received === 0 ? "No request message received" : "Incomplete request message");
      return;
    }
    const buffer = this.#rest ? Buffer.concat(this.#rest, this.#received) : this.#first!;
    this.#first = this.#rest = undefined;
    let payload: Buffer = buffer.subarray(5, this.#expected);
    const flag = buffer[0];
    if (flag === 1) {
      const encoding = this.header("grpc-encoding");
      if (encoding === undefined || encoding === "identity") {
        this.fail(Status.INTERNAL, "Compressed message without grpc-encoding");
        return;
      }
      try {
        const options = { maxOutputLength: this.#max + 1 };
        payload = encoding === "gzip" ? zlib.gunzipSync(payload, options) : zlib.inflateSync(payload, options);
      } catch (error) {
        if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") this.fail(Status.RESOURCE_EXHAUSTED, `Decompressed message larger than max (${this.#max})`);
        else this.fail(Status.INTERNAL, `Failed to decompress the request message (${encoding})`);
        return;
      }
      if (payload.length > this.#max) {
        this.fail(Status.RESOURCE_EXHAUSTED, `Decompressed message larger than max (${payload.length} vs. ${this.#max})`);
        return;
      }
    } else if (flag !== 0) {
      this.fail(Status.INTERNAL, `Invalid message compression flag ${flag}`);
      return;
    }
    try {
      this.request = this.method.decode(payload);
    } catch (error) {
      this.fail(Status.INTERNAL, `Failed to parse the request message: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.#state = HANDLING;
    try {
      this.method.handler(this);
    } catch (error) {
      this.#onError?.(error, this.method.path);
      this.fail(Status.INTERNAL, "Internal error");
    }
  }
}

// Stream listeners shared by all calls (no per-call closures): the call hangs off the stream.
function onData(this: Stream, chunk: Buffer): void {
  this[kCall]?.data(chunk);
}
function onEnd(this: Stream): void {
  this[kCall]?.end_();
}
function onClose(this: Stream): void {
  this[kCall]?.closed();
}
function onWantTrailers(this: Stream): void {
  try {
    this.sendTrailers(this[kCall]?.takeTrailers() ?? { "grpc-status": "0" });
  } catch {
    // stream already gone
  }
}
function onDeadline(call: ServerCall): void {
  call.deadline();
}

/** A gRPC server on node:http2 (h2c, or TLS with ALPN h2). */
export class GrpcServer {
  readonly #methods = new Map<string, MethodDefinition>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #server: http2.Http2Server | http2.Http2SecureServer;
  readonly #options: GrpcServerOptions;
  #closed: Promise<void> | undefined;

  constructor(options: GrpcServerOptions) {
    this.#options = options;
    const common = { settings: HTTP2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB };
    this.#server = options.tls
      ? http2.createSecureServer({ ...common, cert: options.tls.cert, key: options.tls.key, allowHTTP1: false })
      : http2.createServer(common);
    this.#server.on("stream", (stream: Stream, headers: http2.IncomingHttpHeaders) => this.#onStream(stream, headers));
    this.#server.on("session", (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      session.on("error", noop);
      session.once("close", () => this.#sessions.delete(session));
      if (this.#closed) session.close();
      else trySetWindow(session);
      const maxAge = this.#options.maxConnectionAgeMs ?? 0;
      if (maxAge > 0) {
        const timer = setTimeout(() => closeQuietly(session), Math.min(maxAge * (0.9 + Math.random() * 0.2), MAX_TIMER_MS)).unref();
        session.once("close", () => clearTimeout(timer));
      }
    });
    this.#server.on("sessionError", noop);
    this.#server.on("unknownProtocol", (socket: { destroy(): void }) => socket.destroy());
    this.#server.on("tlsClientError", noop);
  }

  add(method: MethodDefinition): this {
    this.#methods.set(method.path, method);
    return this;
  }

  /** Binds; resolves with the port. */
  listen(port: number, host: string): Promise<number> {
    const server = this.#server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        server.on("error", noop);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Graceful: stops listening and sends GOAWAY on every connection (calls in flight continue, new ones go
   * elsewhere). Resolves when every connection has closed — call {@link destroy} to cut the rest.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const session of this.#sessions) closeQuietly(session);
    });
    return this.#closed;
  }

  /** Stops listening and destroys every connection: calls in flight are cancelled (their signals abort). */
  destroy(): void {
    void this.close();
    for (const session of this.#sessions) session.destroy();
  }

  #onStream(stream: Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", noop);
    try {
      if (headers[":method"] !== "POST") return httpError(stream, 405);
      const contentType = headers["content-type"];
      if (typeof contentType !== "string" || !/^application\/grpc(?:$|[+;])/.test(contentType)) return httpError(stream, 415);
      const method = this.#methods.get(headers[":path"] ?? "");
      if (!method) return trailersOnly(stream, Status.UNIMPLEMENTED, `Method not found: ${headers[":path"] ?? ""}`);
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity" && encoding !== "gzip" && encoding !== "deflate") {
        return trailersOnly(stream, Status.UNIMPLEMENTED, `Message encoding ${String(encoding)} is not supported`);
      }
      const timeout = parseGrpcTimeout(headers["grpc-timeout"]);
      if (Number.isNaN(timeout)) return trailersOnly(stream, Status.INTERNAL, "Malformed grpc-timeout");
      const call = new ServerCall(stream, headers, method, this.#options.maxReceiveMessageBytes, this.#options.onHandlerError);
      stream[kCall] = call;
      stream.on("data", onData);
      stream.on("end", onEnd);
      stream.on("close", onClose);
      if (timeout !== undefined) call.startDeadline(timeout);
    } catch (error) {
      this.#options.onHandlerError?.(error, String(headers[":path"]));
      try {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      } catch {
        // gone
      }
    }
  }
}

/** GOAWAY, then close once the session's streams are done. */
function closeQuietly(session: http2.ServerHttp2Session): void {
  try {
    session.close();
  } catch {
    // already closing
  }
}

function trySetWindow(session: http2.ServerHttp2Session): void {
  try {
    session.setLocalWindowSize(CONNECTION_WINDOW);
  } catch {
    // session gone
  }
}

function httpError(stream: Stream, status: number): void {
  stream.resume();
  stream.respond({ ":status": status }, { endStream: true });
}

function statusTrailers(code: number, message: string): http2.OutgoingHttpHeaders {
  const trailers: http2.OutgoingHttpHeaders = { "grpc-status": String(code) };
  if (message) trailers["grpc-message"] = encodeGrpcMessage(message);
  return trailers;
}

/** A status as the response's only headers (nothing was sent yet); the rest of the request is discarded. */
function trailersOnly(stream: Stream, code: number, message: string): void {
  stream.resume();
  stream.respond({ ...RESPONSE_HEADERS, ...statusTrailers(code, message) }, { endStream: true });
}
