// The native gRPC transport: a small gRPC server on node:http2 implementing the transport contract (types.ts):
// unary, server-streaming and collected bidi calls. Implements the gRPC-over-HTTP2 protocol
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) for servers: content-type check, path routing
// (unknown → UNIMPLEMENTED, trailers-only), length-prefixed framing, gzip/deflate request messages (inflated off
// the event loop), max receive size, grpc-timeout deadlines, client cancel, percent-encoded grpc-message,
// metadata both ways (`-bin` base64), status details, backpressure, and the connection management grpc-go's
// server has: max connection age (+ grace), max connection idle, a handshake timeout, keepalive pings that find
// dead or protocol-terminated connections, a process-wide budget for buffered request bytes, graceful shutdown
// (GOAWAY, drain) and a hard one (streams reset with CANCEL).
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { Status, encodeGrpcMessage } from "./status.js";
import type {
  CallProtocol,
  MetadataValue,
  MethodDefinition,
  OutgoingMetadata,
  ServerCall,
  TransportEvent,
  TransportEventName,
  TransportOptions,
  TransportServer,
} from "./types.js";
import { runDoneCallbacks, untilEventOrDone } from "./call-done.js";

const DRAIN_OR_CLOSE = ["drain", "close"] as const;

export type { MethodDefinition, ServerCall } from "./types.js";

/**
 * Default largest request message: 16 MiB. The Flyte backend's grpc-go client sends CreateTask without a size
 * limit and its inputs can exceed grpc's usual 4 MiB (flyte-sdk's Python server keeps grpc's 4 MiB and so refuses
 * them); Flyte bounds an inputs/outputs literal map at 10 MB (its metadata-store limit and literal-offloading
 * threshold), so 16 MiB takes the largest inputs plus the template, and four such uploads still fit in
 * {@link DEFAULT_MAX_BUFFERED_REQUEST_BYTES}.
 */
export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * Default budget for request bytes the process holds at once (received and not yet decoded, inflated ones
 * included): 64 MiB, a quarter of the 200–300 MiB a connector pod gets.
 */
export const DEFAULT_MAX_BUFFERED_REQUEST_BYTES = 64 * 1024 * 1024;
/** Default time a new connection has to send the HTTP/2 preface and SETTINGS: 10 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default grace after the max-age GOAWAY before the connection is closed hard: 30 s (the service's grace period). */
export const DEFAULT_MAX_CONNECTION_AGE_GRACE_MS = 30_000;
/** Default interval of the server's keepalive PINGs: 10 s. */
export const DEFAULT_KEEPALIVE_TIME_MS = 10_000;
/** Default time to wait for a PING's ack before the connection is closed: 20 s (grpc-go's server default). */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;

/** Options of the native transport. */
export interface NativeTransportOptions extends TransportOptions {
  /**
   * Request bytes all calls together may hold (received and not yet decoded, after inflating): beyond it, the call
   * whose data does not fit is answered RESOURCE_EXHAUSTED. Never less than one largest request compressed plus
   * inflated (2 × (maxReceiveMessageBytes + 5)): a smaller budget would refuse requests the receive limit allows.
   * Default: {@link DEFAULT_MAX_BUFFERED_REQUEST_BYTES}.
   */
  maxBufferedRequestBytes?: number | undefined;
  /**
   * A connection that has not sent the HTTP/2 preface and SETTINGS (and, with TLS, finished its handshake) within
   * this many ms is closed. 0: never. Default: {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}.
   */
  handshakeTimeoutMs?: number | undefined;
  /**
   * The server PINGs every connection this often; one that does not answer within {@link keepaliveTimeoutMs} is
   * closed (a dead peer, or a connection nghttp2 stopped serving after a protocol error). 0: never.
   * Default: {@link DEFAULT_KEEPALIVE_TIME_MS}.
   */
  keepaliveTimeMs?: number | undefined;
  /** See {@link keepaliveTimeMs}. Default: {@link DEFAULT_KEEPALIVE_TIMEOUT_MS}. */
  keepaliveTimeoutMs?: number | undefined;
}

/**
 * HTTP/2 settings. `maxConcurrentStreams` bounds the calls one connection may have open (grpc-go clients queue
 * streams beyond it instead of failing); the per-stream and connection receive windows are raised from the
 * HTTP/2 default of 64 KiB so large CreateTask requests upload without waiting for WINDOW_UPDATEs.
 */
export const HTTP2_SETTINGS = {
  maxConcurrentStreams: 1000,
  initialWindowSize: 1024 * 1024,
  maxHeaderListSize: 64 * 1024,
} as const;
const CONNECTION_WINDOW = 8 * 1024 * 1024;
/**
 * nghttp2's per-connection memory cap (MB), beyond which Node refuses new streams with ENHANCE_YOUR_CALM and
 * eventually drops the connection: effectively unlimited, as grpc-js sets it. Memory is bounded instead by the
 * stream cap, streaming backpressure, deadlines (which free answers a client does not read) and the request
 * budget.
 */
const MAX_SESSION_MEMORY_MB = Number.MAX_SAFE_INTEGER;

const ACCEPT_ENCODING = "identity,deflate,gzip";
/** Response headers of every call (frozen: node:http2 copies them). */
const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = Object.freeze({ ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": ACCEPT_ENCODING });
const OK_TRAILERS: http2.OutgoingHttpHeaders = Object.freeze({ "grpc-status": "0" });
/** Longest timer Node can set (2^31 − 1 ms, ~24.8 days); longer ones fire at once with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
/** Inflate in 64 KiB pieces: few callbacks, and the budget is checked every piece. */
const INFLATE_OPTIONS: zlib.ZlibOptions = { chunkSize: 64 * 1024 };
/** Metadata keys a handler may not set: HTTP/2 pseudo and connection headers, and gRPC's own. */
const RESERVED_METADATA = new Set(["content-type", "te", "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** `grpc-timeout` → milliseconds; undefined when absent; NaN when malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === "string" ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  if (!match) return NaN;
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}

const RECEIVING = 0;
/** Inflating a compressed request message (off the event loop). */
const INFLATING = 1;
const HANDLING = 2;
const DONE = 3;

const kCall = Symbol("grpcCall");
const kState = Symbol("grpcSessionState");
type Stream = http2.ServerHttp2Stream & { [kCall]?: NativeCall };
type Session = http2.ServerHttp2Session & { [kState]?: SessionState };

function noop(): void {}

/** Per-connection bookkeeping. */
class SessionState {
  /** Calls routed on this connection whose stream is still open, and the newest of them (a linked list). */
  calls = 0;
  newest: NativeCall | undefined = undefined;
  /** When `calls` last dropped to 0 (or the connection opened): for max connection idle. */
  idleSince = performance.now();
  /** When the outstanding keepalive PING was sent; 0: none outstanding. */
  pingSentAt = 0;
  lastPingAt = performance.now();
  /** A GOAWAY was sent (age, idle or shutdown): no second one. */
  goaway = false;
  /** The server is destroying the connection (its own ERR_HTTP2_SESSION_ERROR is not an event). */
  destroying = false;
  timers: NodeJS.Timeout[] = [];
}

/** What every call of one server shares (one object, so a call takes one reference). */
interface CallContext {
  readonly maxReceive: number;
  readonly maxBuffered: number;
  /** Request bytes held by all calls now. */
  buffered: number;
  readonly onHandlerError: ((error: unknown, path: string) => void) | undefined;
  emit(event: TransportEventName, detail?: Record<string, unknown>): void;
}

/** A native call: its request, its signal (aborted on deadline or client cancel) and how to answer it. */
class NativeCall implements ServerCall {
  /** The decoded request message (set before the handler runs; the last message of a bidi call). */
  request: unknown = undefined;
  readonly headers: http2.IncomingHttpHeaders;
  readonly method: MethodDefinition;
  readonly #controller = new AbortController();
  readonly #stream: Stream;
  readonly #ctx: CallContext;
  readonly #session: SessionState;
  #state = RECEIVING;
  #first: Buffer | undefined = undefined;
  #rest: Buffer[] | undefined = undefined;
  #received = 0;
  #expected = -1;
  /** Request bytes this call holds in the server's budget. */
  #charged = 0;
  #timer: NodeJS.Timeout | undefined = undefined;
  #trailers: http2.OutgoingHttpHeaders | undefined = undefined;
  /** Run once when the call finishes (answered, failed, timed out or cancelled). */
  #onDone: Set<() => void> | undefined = undefined;
  #inflater: zlib.Gunzip | zlib.Inflate | undefined = undefined;
  /** Bidi: decoded messages; complete frames waiting to be inflated/decoded; whether the client half-closed. */
  #requests: unknown[] | undefined = undefined;
  #queue: Buffer[] | undefined = undefined;
  #halfClosed = false;
  #total = 0;
  /** @internal the session's list of open calls (no allocation per call). */
  older: NativeCall | undefined = undefined;
  newer: NativeCall | undefined = undefined;

  constructor(stream: Stream, headers: http2.IncomingHttpHeaders, method: MethodDefinition, ctx: CallContext, session: SessionState) {
    this.#stream = stream;
    this.headers = headers;
    this.method = method;
    this.#ctx = ctx;
    this.#session = session;
    session.calls++;
    const newest = session.newest;
    if (newest !== undefined) newest.newer = this;
    this.older = newest;
    session.newest = this;
  }

  /** @internal hard shutdown: reset the stream with CANCEL (clients retry it). */
  cancel(): void {
    this.#closeStream(http2.constants.NGHTTP2_CANCEL);
  }

  get protocol(): CallProtocol {
    return "grpc";
  }

  get requests(): readonly unknown[] {
    return this.#requests ?? [this.request];
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get done(): boolean {
    return this.#state === DONE;
  }

  header(name: string): string | undefined {
    const value = this.headers[name];
    if (typeof value !== "string" || name.endsWith("-bin")) return undefined;
    return value;
  }

  metadata(name: string): readonly MetadataValue[] {
    const key = name.toLowerCase();
    const value = this.headers[key];
    if (value === undefined) return [];
    const values = typeof value === "string" ? [value] : value;
    if (!key.endsWith("-bin")) return values;
    // Node joins repeated headers with ", "; a `-bin` value may itself be a comma-separated list (the spec).
    const out: Buffer[] = [];
    for (const joined of values) for (const part of joined.split(",")) out.push(Buffer.from(part.trim(), "base64"));
    return out;
  }

  sendHeaders(metadata: OutgoingMetadata): void {
    if (this.#state === DONE) return;
    const stream = this.#stream;
    if (stream.headersSent || stream.destroyed || stream.closed) return;
    try {
      respondHeaders(stream, addMetadata({ ...RESPONSE_HEADERS }, metadata));
    } catch (error) {
      this.#ctx.onHandlerError?.(error, this.method.path);
      this.fail(Status.INTERNAL, "Invalid response metadata");
    }
  }

  respond(message: unknown, trailers?: OutgoingMetadata): void {
    if (this.#state === DONE) return;
    const frame = this.#frame(message);
    this.#finish();
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    try {
      if (trailers !== undefined) this.#trailers = statusTrailers(Status.OK, "", undefined, trailers);
      if (!stream.headersSent) respondHeaders(stream, RESPONSE_HEADERS);
      stream.end(frame);
    } catch (error) {
      this.#ctx.onHandlerError?.(error, this.method.path);
      this.#closeStream(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  write(message: unknown): boolean {
    if (this.#state === DONE) return false;
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return false;
    const frame = this.#frame(message);
    try {
      if (!stream.headersSent) respondHeaders(stream, RESPONSE_HEADERS);
      return stream.write(frame);
    } catch (error) {
      this.#ctx.onHandlerError?.(error, this.method.path);
      this.fail(Status.INTERNAL, "Failed to send a response message.");
      return false;
    }
  }

  drained(): Promise<void> {
    if (this.#state === DONE) return Promise.resolve();
    return untilEventOrDone((this.#onDone ??= new Set()), this.#stream, DRAIN_OR_CLOSE);
  }

  whenDone(callback: () => void): void {
    if (this.#state === DONE) callback();
    else (this.#onDone ??= new Set()).add(callback);
  }

  end(trailers?: OutgoingMetadata): void {
    if (this.#state === DONE) return;
    if (!this.#stream.headersSent) return this.fail(Status.OK, "", trailers === undefined ? undefined : { trailers });
    this.#finish();
    try {
      if (trailers !== undefined) this.#trailers = statusTrailers(Status.OK, "", undefined, trailers);
      this.#stream.end();
    } catch {
      this.#closeStream(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  fail(code: number, message: string, options?: { details?: Uint8Array; trailers?: OutgoingMetadata }): void {
    if (this.#state === DONE) return;
    this.#finish();
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    let trailers: http2.OutgoingHttpHeaders;
    try {
      trailers = statusTrailers(code, message, options?.details, options?.trailers);
    } catch (error) {
      this.#ctx.onHandlerError?.(error, this.method.path);
      trailers = statusTrailers(code, message);
    }
    try {
      if (!stream.headersSent) trailersOnly(stream, trailers);
      else {
        this.#trailers = trailers;
        stream.end();
      }
    } catch (error) {
      // Node refuses a metadata value (e.g. a control character): answer with the status alone.
      if (options?.trailers !== undefined && !stream.headersSent) {
        this.#ctx.onHandlerError?.(error, this.method.path);
        try {
          return trailersOnly(stream, statusTrailers(code, message, options.details));
        } catch {
          // fall through
        }
      }
      this.#closeStream(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  /** @internal the trailers `wantTrailers` sends. */
  takeTrailers(): http2.OutgoingHttpHeaders {
    return this.#trailers ?? OK_TRAILERS;
  }

  /** The length-prefixed response frame; when the message cannot be encoded: fail INTERNAL, then throw. */
  #frame(message: unknown): Buffer {
    let bytes: Uint8Array;
    try {
      bytes = this.method.encode(message);
    } catch (error) {
      this.#ctx.onHandlerError?.(error, this.method.path);
      this.fail(Status.INTERNAL, "Failed to encode the response message.");
      throw error;
    }
    const frame = Buffer.allocUnsafe(5 + bytes.byteLength);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.byteLength, 1);
    frame.set(bytes, 5);
    return frame;
  }

  /**
   * The call is over for the handler. The deadline timer stays armed until the stream closes: an answer the
   * client does not read is freed at the deadline (issue 10 #7).
   */
  #finish(): void {
    this.#state = DONE;
    this.#first = this.#rest = this.#queue = undefined;
    this.#release();
    if (this.#inflater !== undefined) {
      this.#inflater.destroy();
      this.#inflater = undefined;
    }
    const callbacks = this.#onDone;
    this.#onDone = undefined;
    runDoneCallbacks(callbacks, (error) => this.#ctx.onHandlerError?.(error, this.method.path));
  }

  #release(): void {
    if (this.#charged !== 0) {
      this.#ctx.buffered -= this.#charged;
      this.#charged = 0;
    }
  }

  /** Adds request bytes to the budget; false (and the call failed RESOURCE_EXHAUSTED) when they do not fit. */
  #charge(bytes: number): boolean {
    const ctx = this.#ctx;
    if (ctx.buffered + bytes > ctx.maxBuffered) {
      ctx.emit("request_budget_exceeded", { path: this.method.path, bufferedBytes: ctx.buffered, limitBytes: ctx.maxBuffered });
      this.fail(Status.RESOURCE_EXHAUSTED, `The server holds too many request bytes (limit ${ctx.maxBuffered}); retry later`);
      return false;
    }
    ctx.buffered += bytes;
    this.#charged += bytes;
    return true;
  }

  #closeStream(code: number): void {
    try {
      this.#stream.close(code);
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
   * data is still queued (a client that does not read: flow control would hold it, maybe forever) the stream is
   * reset with CANCEL, as grpc-go's server does — also when the call was already answered.
   */
  deadline(): void {
    this.#timer = undefined;
    const stream = this.#stream;
    if (stream.closed || stream.destroyed) return;
    if (this.#state === DONE) return this.#closeStream(http2.constants.NGHTTP2_CANCEL);
    this.fail(Status.DEADLINE_EXCEEDED, "Deadline exceeded");
    if (stream.writableLength > 0) this.#closeStream(http2.constants.NGHTTP2_CANCEL);
    this.#controller.abort(new DOMException("The call's deadline passed.", "TimeoutError"));
  }

  /** @internal the stream closed (answered, or reset by the client). */
  closed(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const session = this.#session;
    if (this.newer !== undefined) this.newer.older = this.older;
    else session.newest = this.older;
    if (this.older !== undefined) this.older.newer = this.newer;
    this.older = this.newer = undefined;
    if (--session.calls === 0) session.idleSince = performance.now();
    if (this.#state === DONE) return;
    this.#finish();
    this.#controller.abort(new DOMException("The client cancelled the call.", "AbortError"));
  }

  /** @internal request bytes. */
  data(chunk: Buffer): void {
    // (A bidi call keeps receiving while an earlier message inflates.)
    if (this.#state >= HANDLING || !this.#charge(chunk.length)) return;
    this.#received += chunk.length;
    if (this.#first === undefined) this.#first = chunk;
    else (this.#rest ??= [this.#first]).push(chunk);
    if (this.#queue !== undefined) return this.#bidiData();
    if (this.#expected < 0 && this.#received >= 5) {
      const head = this.#first.length >= 5 ? this.#first : Buffer.concat(this.#rest!, this.#received);
      const length = head.readUInt32BE(1);
      if (length > this.#ctx.maxReceive) {
        this.fail(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.#ctx.maxReceive})`);
        return;
      }
      this.#expected = 5 + length;
    }
    // As grpc-js: a second request message on a unary or server-streaming method is UNIMPLEMENTED.
    if (this.#expected >= 0 && this.#received > this.#expected) {
      this.fail(Status.UNIMPLEMENTED, `Received a second request message for ${this.method.kind} method ${this.method.path}`);
    }
  }

  /** @internal the client finished sending: decode the one message (bidi: every message) and run the handler. */
  end_(): void {
    if (this.#state >= HANDLING) return;
    if (this.#queue !== undefined) {
      this.#halfClosed = true;
      if (this.#received > 0) return this.fail(Status.INTERNAL, `Incomplete request message (${this.#received} bytes left at half-close)`);
      return this.#pump();
    }
    if (this.#expected < 0 || this.#received < this.#expected) {
      if (this.#received === 0) this.fail(Status.UNIMPLEMENTED, `Received no request message for ${this.method.kind} method ${this.method.path}`);
      else this.fail(Status.INTERNAL, `Incomplete request message (${this.#received} bytes)`);
      return;
    }
    const buffer = this.#rest ? Buffer.concat(this.#rest, this.#received) : this.#first!;
    this.#first = this.#rest = undefined;
    this.#message(buffer.subarray(0, this.#expected));
  }

  /** @internal bidi: collect messages (each decoded as it completes) until the half-close. */
  startBidi(): void {
    this.#queue = [];
    this.#requests = [];
  }

  /** Bidi: splits the bytes received into complete frames, each bounded by the receive limit, all by twice it. */
  #bidiData(): void {
    const max = this.#ctx.maxReceive;
    while (this.#received >= 5) {
      if (this.#first!.length < 5) this.#flatten();
      const length = this.#first!.readUInt32BE(1);
      if (length > max) return this.fail(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${max})`);
      if (this.#received < 5 + length) break;
      if ((this.#total += length) > 2 * max) return this.fail(Status.RESOURCE_EXHAUSTED, `Request messages larger than max together (${this.#total} vs. ${2 * max})`);
      this.#flatten();
      const all = this.#first!;
      this.#queue!.push(all.subarray(0, 5 + length));
      this.#received -= 5 + length;
      this.#first = this.#received > 0 ? all.subarray(5 + length) : undefined;
    }
    this.#pump();
  }

  #flatten(): void {
    if (this.#rest !== undefined) {
      this.#first = Buffer.concat(this.#rest, this.#received);
      this.#rest = undefined;
    }
  }

  /** Bidi: handles queued frames in order (one inflating at a time), then the handler once complete. */
  #pump(): void {
    const queue = this.#queue!;
    while (this.#state === RECEIVING && queue.length > 0) this.#message(queue.shift()!);
    if (this.#state === RECEIVING && this.#halfClosed && queue.length === 0) this.#run();
  }

  /** One complete frame (flag, length, payload): inflate when compressed, then decode. */
  #message(frame: Buffer): void {
    const flag = frame[0];
    const payload = frame.subarray(5);
    if (flag === 0) return this.#decoded(payload);
    if (flag !== 1) return this.fail(Status.INTERNAL, `Invalid message compression flag ${flag}`);
    const encoding = this.header("grpc-encoding");
    if (encoding === undefined || encoding === "identity") return this.fail(Status.INTERNAL, "Compressed message without grpc-encoding");
    this.#inflate(payload, encoding);
  }

  /**
   * Inflates on zlib's thread pool in pieces (a bomb never stalls the event loop), stopping at the receive limit;
   * the inflated bytes count in the request budget.
   */
  #inflate(payload: Buffer, encoding: string): void {
    this.#state = INFLATING;
    const max = this.#ctx.maxReceive;
    const inflater = (this.#inflater = encoding === "gzip" ? zlib.createGunzip(INFLATE_OPTIONS) : zlib.createInflate(INFLATE_OPTIONS));
    const chunks: Buffer[] = [];
    let size = 0;
    inflater.on("data", (chunk: Buffer) => {
      if (this.#state !== INFLATING) return;
      size += chunk.length;
      if (size > max) return this.fail(Status.RESOURCE_EXHAUSTED, `Decompressed message larger than max (${max})`);
      if (this.#charge(chunk.length)) chunks.push(chunk);
    });
    inflater.on("error", () => {
      if (this.#state === INFLATING) this.fail(Status.INTERNAL, `Failed to decompress the request message (${encoding})`);
    });
    inflater.on("end", () => {
      if (this.#state !== INFLATING) return;
      this.#inflater = undefined;
      this.#state = RECEIVING;
      this.#decoded(Buffer.concat(chunks, size));
      if (this.#queue !== undefined) this.#pump();
    });
    inflater.end(payload);
  }

  #decoded(payload: Buffer): void {
    let message: unknown;
    try {
      message = this.method.decode(payload);
    } catch (error) {
      this.fail(Status.INTERNAL, `Failed to parse the request message: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const requests = this.#requests;
    if (requests === undefined) {
      this.request = message;
      return this.#run();
    }
    requests.push(message);
    let complete: boolean | undefined;
    try {
      complete = this.method.requestsComplete?.(requests);
    } catch (error) {
      this.#ctx.onHandlerError?.(error, this.method.path);
      return this.fail(Status.INTERNAL, "Internal error");
    }
    if (complete) this.#run();
  }

  /** Every request message is in: the handler runs. */
  #run(): void {
    if (this.#requests !== undefined) {
      this.request = this.#requests[this.#requests.length - 1];
      this.#queue = [];
    }
    this.#first = this.#rest = undefined;
    this.#release();
    this.#state = HANDLING;
    try {
      this.method.handler(this);
    } catch (error) {
      this.#ctx.onHandlerError?.(error, this.method.path);
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
    this.sendTrailers(this[kCall]?.takeTrailers() ?? OK_TRAILERS);
  } catch {
    // stream already gone
  }
}
function onDeadline(call: NativeCall): void {
  call.deadline();
}

/** A gRPC server on node:http2 (h2c, or TLS with ALPN h2): the native transport. */
export class GrpcServer implements TransportServer {
  readonly #methods = new Map<string, MethodDefinition>();
  readonly #sessions = new Set<Session>();
  readonly #server: http2.Http2Server | http2.Http2SecureServer;
  readonly #options: NativeTransportOptions;
  readonly #ctx: CallContext;
  #sweep: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: NativeTransportOptions) {
    this.#options = options;
    const onEvent = options.onEvent;
    this.#ctx = {
      maxReceive: options.maxReceiveMessageBytes,
      maxBuffered: Math.max(options.maxBufferedRequestBytes ?? DEFAULT_MAX_BUFFERED_REQUEST_BYTES, 2 * (options.maxReceiveMessageBytes + 5)),
      buffered: 0,
      onHandlerError: options.onHandlerError,
      emit: (event, detail) => {
        if (!onEvent) return;
        try {
          onEvent(detail === undefined ? { event } : { event, detail });
        } catch {
          // an observer's bug must not break the transport
        }
      },
    };
    const handshake = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const common = { settings: HTTP2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB };
    this.#server = options.tls
      ? http2.createSecureServer({ ...common, cert: options.tls.cert, key: options.tls.key, allowHTTP1: false, ...(handshake > 0 ? { handshakeTimeout: handshake } : {}) })
      : http2.createServer(common);
    this.#server.on("stream", (stream: Stream, headers: http2.IncomingHttpHeaders) => this.#onStream(stream, headers));
    this.#server.on("session", (session: Session) => this.#onSession(session));
    this.#server.on("sessionError", noop);
    // TLS without ALPN h2 (an HTTP/1 client, a misconfigured one).
    this.#server.on("unknownProtocol", (socket: { destroy(): void }) => {
      this.#ctx.emit("socket_error", { reason: "unknown_protocol", tls: true });
      socket.destroy();
    });
    this.#server.on("tlsClientError", (error: Error & { code?: string }) => this.#ctx.emit(error.code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? "handshake_timeout" : "socket_error", { code: error.code, tls: true }));
  }

  /** Request bytes all calls hold now (tests, debugging). */
  get bufferedRequestBytes(): number {
    return this.#ctx.buffered;
  }

  add(method: MethodDefinition): this {
    this.#methods.set(method.path, method);
    return this;
  }

  listen(port: number, host: string): Promise<number> {
    const server = this.#server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        server.on("error", noop);
        this.#startSweep();
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
      for (const session of this.#sessions) this.#goaway(session, "shutdown");
    });
    return this.#closed;
  }

  /**
   * Stops listening and destroys every connection: calls still open are reset with CANCEL (clients retry; a
   * NO_ERROR reset reads as INTERNAL to grpc-go and C-core) and their signals abort.
   */
  destroy(): void {
    void this.close();
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    for (const session of this.#sessions) {
      const calls = session[kState]?.calls ?? 0;
      if (calls > 0) this.#ctx.emit("stream_reset_on_shutdown", { calls });
      destroySession(session);
    }
  }

  #onSession(session: Session): void {
    const state = (session[kState] = new SessionState());
    const ctx = this.#ctx;
    this.#sessions.add(session);
    session.on("error", (error: Error & { code?: string }) => {
      if (state.destroying) return;
      // Socket-level failures (resets, broken pipes) vs. HTTP/2 ones (nghttp2 errors, bad frames).
      const socketLevel = typeof error.code === "string" && !error.code.startsWith("ERR_HTTP2");
      ctx.emit(socketLevel ? "socket_error" : "session_error", { code: error.code, message: error.message });
    });
    session.on("goaway", (errorCode: number, lastStreamID: number) => ctx.emit("goaway_received", { errorCode, lastStreamID }));
    session.once("close", () => {
      this.#sessions.delete(session);
      for (const timer of state.timers) clearTimeout(timer);
    });
    if (this.#closed) return this.#goaway(session, "shutdown");
    trySetWindow(session);

    const handshake = this.#options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (handshake > 0) {
      // The session exists from the first byte (h2c) or once TLS is up (whose own handshake has the same timeout);
      // the client's SETTINGS completes the HTTP/2 preface.
      const timer = setTimeout(() => {
        ctx.emit("handshake_timeout", { timeoutMs: handshake });
        destroySession(session);
      }, Math.min(handshake, MAX_TIMER_MS));
      session.once("remoteSettings", () => clearTimeout(timer));
      state.timers.push(timer);
    }
    const maxAge = this.#options.maxConnectionAgeMs ?? 0;
    if (maxAge > 0) {
      const grace = this.#options.maxConnectionAgeGraceMs ?? DEFAULT_MAX_CONNECTION_AGE_GRACE_MS;
      const timer = setTimeout(
        () => {
          this.#goaway(session, "max_connection_age");
          // After the grace, close hard: a stream whose client stopped reading must not hold the connection.
          const hard = setTimeout(
            () => {
              if (session.destroyed) return;
              ctx.emit("connection_age_closed", { calls: state.calls, graceMs: grace });
              destroySession(session);
            },
            Math.min(grace, MAX_TIMER_MS),
          );
          state.timers.push(hard);
        },
        Math.min(maxAge * (0.9 + Math.random() * 0.2), MAX_TIMER_MS),
      );
      state.timers.push(timer);
    }
  }

  /** GOAWAY (once per connection, counted), then node closes it once its streams are done. */
  #goaway(session: Session, reason: string): void {
    const state = session[kState];
    if (state?.goaway || session.closed || session.destroyed) return;
    if (state) state.goaway = true;
    this.#ctx.emit("goaway_sent", { reason });
    try {
      session.close();
    } catch {
      // already closing
    }
  }

  /**
   * One timer for every connection: max-connection-idle GOAWAYs and keepalive PINGs (a connection whose PING goes
   * unanswered is closed: the peer is gone, or nghttp2 stopped serving it after a protocol-error GOAWAY and would
   * otherwise leave the socket open forever).
   */
  #startSweep(): void {
    const idle = this.#options.maxConnectionIdleMs ?? 0;
    const keepalive = this.#options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_TIME_MS;
    const keepaliveTimeout = this.#options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    if (idle <= 0 && keepalive <= 0) return;
    const periods = [idle > 0 ? idle / 4 : Infinity, keepalive > 0 ? Math.min(keepalive, keepaliveTimeout) / 4 : Infinity];
    const period = Math.max(10, Math.min(1000, ...periods));
    this.#sweep = setInterval(() => {
      const now = performance.now();
      for (const session of this.#sessions) {
        const state = session[kState];
        if (!state || session.destroyed) continue;
        if (idle > 0 && !state.goaway && state.calls === 0 && now - state.idleSince >= idle) {
          this.#ctx.emit("connection_idle_closed", { idleMs: Math.round(now - state.idleSince) });
          this.#goaway(session, "max_connection_idle");
        }
        if (keepalive <= 0) continue;
        if (state.pingSentAt > 0) {
          if (now - state.pingSentAt >= keepaliveTimeout) {
            this.#ctx.emit("session_error", { reason: "keepalive_timeout", timeoutMs: keepaliveTimeout });
            destroySession(session);
          }
        } else if (now - state.lastPingAt >= keepalive) {
          state.lastPingAt = state.pingSentAt = now;
          try {
            session.ping((error) => {
              if (!error) state.pingSentAt = 0;
            });
          } catch {
            state.pingSentAt = 0;
          }
        }
      }
    }, period).unref();
  }

  #onStream(stream: Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", noop);
    try {
      if (headers[":method"] !== "POST") return httpError(stream, 405);
      const contentType = headers["content-type"];
      if (typeof contentType !== "string" || !/^application\/grpc(?:$|[+;])/.test(contentType)) return httpError(stream, 415);
      const method = this.#methods.get(headers[":path"] ?? "");
      if (!method) return trailersOnly(stream, statusTrailers(Status.UNIMPLEMENTED, `Method not found: ${headers[":path"] ?? ""}`));
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity" && encoding !== "gzip" && encoding !== "deflate") {
        return trailersOnly(stream, statusTrailers(Status.UNIMPLEMENTED, `Message encoding ${String(encoding)} is not supported`));
      }
      const timeout = parseGrpcTimeout(headers["grpc-timeout"]);
      if (Number.isNaN(timeout)) return trailersOnly(stream, statusTrailers(Status.INTERNAL, "Malformed grpc-timeout"));
      const state = (stream.session as Session)[kState]!;
      const call = new NativeCall(stream, headers, method, this.#ctx, state);
      if (method.kind === "bidi_streaming") call.startBidi();
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

/** Closes the connection now: open calls are reset with CANCEL. */
function destroySession(session: Session): void {
  const state = session[kState];
  if (state) {
    state.destroying = true;
    // RST_STREAM CANCEL for each open call first: destroying alone resets them with NO_ERROR (read as INTERNAL by
    // grpc-go and C-core); the GOAWAY stays NO_ERROR, so clients do not take the connection as failed.
    for (let call = state.newest; call !== undefined; ) {
      const older = call.older;
      call.cancel();
      call = older;
    }
  }
  try {
    session.destroy();
  } catch {
    // already gone
  }
}

function trySetWindow(session: http2.ServerHttp2Session): void {
  try {
    session.setLocalWindowSize(CONNECTION_WINDOW);
  } catch {
    // session gone
  }
}

function respondHeaders(stream: Stream, headers: http2.OutgoingHttpHeaders): void {
  stream.respond(headers, { waitForTrailers: true });
  stream.once("wantTrailers", onWantTrailers);
}

function httpError(stream: Stream, status: number): void {
  stream.resume();
  stream.respond({ ":status": status }, { endStream: true });
}

/** Base64 without padding, as the gRPC spec says binary metadata should be sent. */
function base64(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** Adds a handler's metadata to outgoing headers: `-bin` values base64; reserved and gRPC keys dropped. */
function addMetadata(headers: http2.OutgoingHttpHeaders, metadata: OutgoingMetadata): http2.OutgoingHttpHeaders {
  for (const key of Object.keys(metadata)) {
    const name = key.toLowerCase();
    if (name.startsWith(":") || name.startsWith("grpc-") || RESERVED_METADATA.has(name)) continue;
    const value = metadata[key]!;
    const values = Array.isArray(value) ? (value as readonly MetadataValue[]) : [value as MetadataValue];
    const binary = name.endsWith("-bin");
    const out = values.map((v) => (binary ? base64(typeof v === "string" ? Buffer.from(v) : v) : String(v)));
    headers[name] = out.length === 1 ? out[0] : out;
  }
  return headers;
}

function statusTrailers(code: number, message: string, details?: Uint8Array, metadata?: OutgoingMetadata): http2.OutgoingHttpHeaders {
  const trailers: http2.OutgoingHttpHeaders = metadata === undefined ? {} : addMetadata({}, metadata);
  trailers["grpc-status"] = String(code);
  if (message) trailers["grpc-message"] = encodeGrpcMessage(message);
  if (details !== undefined) trailers["grpc-status-details-bin"] = base64(details);
  return trailers;
}

/** A status as the response's only headers (nothing was sent yet); the rest of the request is discarded. */
function trailersOnly(stream: Stream, trailers: http2.OutgoingHttpHeaders): void {
  stream.resume();
  stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
}
