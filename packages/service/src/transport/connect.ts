// The Connect protocol (https://connectrpc.com/docs/protocol) beside gRPC, as flyte-sdk's connector server serves
// it on --connect_port: unary calls (application/proto, application/json) and server streaming
// (application/connect+proto, application/connect+json), gzip both ways, connect-timeout-ms deadlines, Connect
// error bodies; plus gRPC-Web (application/grpc-web[+proto]). It runs the SAME MethodDefinitions (handlers) as the
// gRPC transport: only the framing differs, so codes, messages, metrics and logs are the same on every port.
// One port serves HTTP/1.1 and h2c (prior knowledge, told apart by the HTTP/2 preface), or with TLS both by ALPN;
// `/healthz` and `/health` answer 200 while the service is healthy, 503 otherwise.
// Max connection age and idle apply here as on the gRPC port (so keep-alive clients and load balancers in front
// rebalance after a scale-up): HTTP/2 connections get GOAWAY; HTTP/1.1 has none, so its counterpart is
// `connection: close` on the answers in progress (then the socket is closed) or closing the idle socket, counted
// as `goaway_sent` all the same.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { Status, encodeGrpcMessage } from "./status.js";
import type { CallProtocol, MetadataValue, MethodDefinition, OutgoingMetadata, ServerCall, TransportEvent, TransportOptions, TransportServer } from "./types.js";
import { runDoneCallbacks, untilEventOrDone } from "./call-done.js";

const DRAIN_OR_CLOSE = ["drain", "close"] as const;

/** Options of {@link ConnectServer}. */
export interface ConnectServerOptions
  extends Pick<TransportOptions, "maxReceiveMessageBytes" | "tls" | "onHandlerError" | "onEvent" | "maxConnectionAgeMs" | "maxConnectionAgeGraceMs" | "maxConnectionIdleMs"> {
  /** `/healthz` and `/health` answer 200 while this returns true, 503 while it returns false. Default: always 200. */
  healthy?: (() => boolean) | undefined;
  /** Responses (and stream messages) at least this large are gzipped when the client accepts gzip. Default: 1024. */
  compressMinBytes?: number | undefined;
  /**
   * How long an idle HTTP/1.1 keep-alive connection stays open, in ms. Longer than the usual 60 s of proxies and
   * load balancers, so the client side closes first (a server closing an idle connection races the client's next
   * request on it). Default: 65000.
   */
  keepAliveTimeoutMs?: number | undefined;
  /** How long a new cleartext connection may stay silent before its first bytes; then it is closed. Default: 10000. */
  firstBytesTimeoutMs?: number | undefined;
}

/** Connect's code names, by gRPC status number (the same numbering). */
const CODE_NAMES: readonly string[] = Object.keys(Status).map((name) => (name === "CANCELLED" ? "canceled" : name.toLowerCase()));

/** Connect error code → HTTP status of a unary error answer (the protocol's table). */
const HTTP_STATUS: Readonly<Record<number, number>> = {
  [Status.CANCELLED]: 499,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 400,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
  [Status.UNAUTHENTICATED]: 401,
};

/** The Connect code name of a gRPC status number ("unknown" for numbers outside the table). */
export function connectCodeName(code: number): string {
  return CODE_NAMES[code] ?? "unknown";
}

export const HEALTH_PATHS: readonly string[] = ["/healthz", "/health"];

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** Default of {@link ConnectServerOptions.firstBytesTimeoutMs} (then node:http's own timeouts apply). */
const FIRST_BYTES_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_DIGITS = 10;
/** Longest timer Node can set (2^31 − 1 ms); a longer deadline is none. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Default of {@link ConnectServerOptions.maxConnectionAgeGraceMs} (the gRPC port's). */
const DEFAULT_MAX_CONNECTION_AGE_GRACE_MS = 30_000;
const ACCEPT_ENCODING = "gzip";
const JSON_READ = { ignoreUnknownFields: true } as const;
const FLAG_COMPRESSED = 0x01;
const FLAG_END_STREAM = 0x02;
const FLAG_GRPC_WEB_TRAILERS = 0x80;

/** How a request is framed: Connect unary, Connect streaming, gRPC-Web. */
type Framing = "unary" | "stream" | "grpc-web";

interface Wire {
  readonly framing: Framing;
  readonly json: boolean;
  /** Response content type. */
  readonly contentType: string;
}

const WIRES: ReadonlyMap<string, Wire> = new Map<string, Wire>([
  ["application/proto", { framing: "unary", json: false, contentType: "application/proto" }],
  ["application/json", { framing: "unary", json: true, contentType: "application/json" }],
  ["application/connect+proto", { framing: "stream", json: false, contentType: "application/connect+proto" }],
  ["application/connect+json", { framing: "stream", json: true, contentType: "application/connect+json" }],
  ["application/grpc-web", { framing: "grpc-web", json: false, contentType: "application/grpc-web+proto" }],
  ["application/grpc-web+proto", { framing: "grpc-web", json: false, contentType: "application/grpc-web+proto" }],
]);

/** The wire format a content type names (parameters such as `charset` ignored), or undefined when not spoken here. */
function wireOf(contentType: string | undefined): Wire | undefined {
  if (contentType === undefined) return undefined;
  const exact = WIRES.get(contentType);
  if (exact) return exact;
  const semicolon = contentType.indexOf(";");
  return WIRES.get((semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase());
}

const ACCEPT_POST = "application/proto, application/json, application/connect+proto, application/connect+json, application/grpc-web+proto";

/** `connect-timeout-ms` → ms; undefined when absent; NaN when malformed (the protocol allows at most 10 digits). */
export function parseConnectTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_TIMEOUT_DIGITS || !/^\d+$/.test(value)) return NaN;
  return Number(value);
}

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function acceptsGzip(value: string | string[] | undefined): boolean {
  const text = Array.isArray(value) ? value.join(",") : value;
  return text !== undefined && /(?:^|,)\s*gzip\s*(?:$|[,;])/i.test(text);
}

/** Outgoing metadata as HTTP header values (`-bin` values base64, unpadded as Connect sends them). */
function headerValues(key: string, value: MetadataValue | readonly MetadataValue[]): string[] {
  const values = Array.isArray(value) ? (value as readonly MetadataValue[]) : [value as MetadataValue];
  return values.map((v) => (typeof v === "string" ? v : Buffer.from(v).toString("base64").replace(/=+$/, "")));
}

/** `details` (a serialized google.rpc.Status) → Connect's `[{type, value}]` (type without its URL prefix). */
export function connectDetails(statusBytes: Uint8Array): { type: string; value: string }[] {
  const details: { type: string; value: string }[] = [];
  const reader = new BinaryReader(statusBytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 3 || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field);
      continue;
    }
    const any = new BinaryReader(reader.bytes());
    let typeUrl = "";
    let value: Uint8Array = new Uint8Array(0);
    while (any.pos < any.len) {
      const [f, w] = any.tag();
      if (f === 1 && w === WireType.LengthDelimited) typeUrl = any.string();
      else if (f === 2 && w === WireType.LengthDelimited) value = any.bytes();
      else any.skip(w, f);
    }
    details.push({ type: typeUrl.slice(typeUrl.lastIndexOf("/") + 1), value: Buffer.from(value).toString("base64").replace(/=+$/, "") });
  }
  return details;
}

function errorJson(code: number, message: string, details: Uint8Array | undefined): string {
  const body: { code: string; message?: string; details?: unknown[] } = { code: connectCodeName(code) };
  if (message) body.message = message;
  if (details) {
    const list = connectDetails(details);
    if (list.length > 0) body.details = list;
  }
  return JSON.stringify(body);
}

function envelope(flags: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + payload.byteLength);
  frame[0] = flags;
  frame.writeUInt32BE(payload.byteLength, 1);
  frame.set(payload, 5);
  return frame;
}

function noop(): void {}

class CallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const RECEIVING = 0;
const HANDLING = 1;
const DONE = 2;

/** One Connect or gRPC-Web call over HTTP/1.1 or HTTP/2: the {@link ServerCall} the handlers answer through. */
class ConnectCall implements ServerCall {
  readonly method: MethodDefinition;
  readonly protocol: CallProtocol;
  request: unknown = undefined;
  readonly #req: Request;
  readonly #res: Response;
  readonly #wire: Wire;
  readonly #server: ConnectServer;
  readonly #controller = new AbortController();
  readonly #gzipOut: boolean;
  #state = RECEIVING;
  #timer: NodeJS.Timeout | undefined = undefined;
  #onDone: Set<() => void> | undefined = undefined;
  /** Response metadata set by sendHeaders (or, for unary Connect calls, trailers as `trailer-` headers). */
  #headers: Record<string, string[]> | undefined = undefined;
  #started = false;

  constructor(server: ConnectServer, req: Request, res: Response, method: MethodDefinition, wire: Wire) {
    this.#server = server;
    this.#req = req;
    this.#res = res;
    this.method = method;
    this.#wire = wire;
    this.protocol = wire.framing === "grpc-web" ? "grpc-web" : "connect";
    const accept = wire.framing === "unary" ? req.headers["accept-encoding"] : wire.framing === "stream" ? req.headers["connect-accept-encoding"] : req.headers["grpc-accept-encoding"];
    this.#gzipOut = acceptsGzip(accept);
  }

  get requests(): readonly unknown[] {
    return [this.request];
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get done(): boolean {
    return this.#state === DONE;
  }

  header(name: string): string | undefined {
    const key = name.toLowerCase();
    if (key.endsWith("-bin")) return undefined;
    return first(this.#req.headers[key]);
  }

  metadata(name: string): readonly MetadataValue[] {
    const key = name.toLowerCase();
    const raw = this.#req.headers[key];
    if (raw === undefined) return [];
    // Several values arrive either as repeated headers (an array) or joined with ", " by HTTP/1.1.
    const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => (key.endsWith("-bin") ? v.split(",") : [v])).map((v) => v.trim());
    return key.endsWith("-bin") ? values.map((v) => Buffer.from(v, "base64")) : values;
  }

  sendHeaders(metadata: OutgoingMetadata): void {
    if (this.#state === DONE || this.#started) return;
    this.#addHeaders("", metadata);
  }

  respond(message: unknown, trailers?: OutgoingMetadata): void {
    if (this.#state === DONE) return;
    if (this.#wire.framing !== "unary") {
      if (this.write(message)) this.end(trailers);
      else if (!this.done) void this.drained().then(() => this.end(trailers));
      return;
    }
    let body: Uint8Array;
    try {
      body = this.#encode(message);
    } catch (error) {
      this.fail(Status.INTERNAL, "Failed to encode the response message.");
      throw error;
    }
    this.#finish();
    if (trailers) this.#addHeaders("trailer-", trailers);
    const headers = this.#responseHeaders(this.#wire.contentType);
    if (this.#gzipOut && body.byteLength >= this.#server.compressMinBytes) {
      body = zlib.gzipSync(body);
      headers.push("content-encoding", "gzip");
    }
    headers.push("content-length", String(body.byteLength));
    this.#send(200, headers, body);
  }

  write(message: unknown): boolean {
    if (this.#state === DONE) return false;
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return false;
    let frame: Buffer;
    try {
      frame = this.#frame(this.#encode(message));
    } catch (error) {
      this.fail(Status.INTERNAL, "Failed to send a response message.");
      throw error;
    }
    try {
      this.#startStream();
      (res as http.ServerResponse).write(frame);
      // Always "wait for drained()": a connector that produces pages without awaiting I/O (an async generator over
      // data in memory) would otherwise loop in microtasks while the kernel takes the bytes, starving every other
      // call of this process; drained() resolves after a turn of the event loop, or on 'drain' when buffered.
      return false;
    } catch (error) {
      this.#server.handlerError(error, this.method.path);
      this.fail(Status.INTERNAL, "Failed to send a response message.");
      return false;
    }
  }

  drained(): Promise<void> {
    if (this.#state === DONE) return Promise.resolve();
    const res = this.#res;
    if (!res.writableNeedDrain) return new Promise((resolve) => setImmediate(resolve));
    return untilEventOrDone((this.#onDone ??= new Set()), res, DRAIN_OR_CLOSE);
  }

  whenDone(callback: () => void): void {
    if (this.#state === DONE) callback();
    else (this.#onDone ??= new Set()).add(callback);
  }

  end(trailers?: OutgoingMetadata): void {
    if (this.#state === DONE) return;
    if (this.#wire.framing === "unary") {
      // A unary call ended without a message: the protocol has no such answer.
      this.fail(Status.INTERNAL, "No response message.");
      return;
    }
    this.#finish();
    this.#endStream(Status.OK, "", undefined, trailers);
  }

  fail(code: number, message: string, options: { details?: Uint8Array; trailers?: OutgoingMetadata } = {}): void {
    if (this.#state === DONE) return;
    this.#finish();
    if (this.#wire.framing === "unary") {
      if (options.trailers) this.#addHeaders("trailer-", options.trailers);
      const body = Buffer.from(errorJson(code, message, options.details));
      const headers = this.#responseHeaders("application/json");
      headers.push("content-length", String(body.byteLength));
      this.#send(HTTP_STATUS[code] ?? 500, headers, body);
      return;
    }
    this.#endStream(code, message, options.details, options.trailers);
  }

  /** @internal the request body arrived: decode it and run the handler. */
  start(body: Buffer): void {
    if (this.#state !== RECEIVING) return;
    this.#decode(body).then(
      (request) => this.#run(request),
      (error: unknown) => {
        if (error instanceof CallError) this.fail(error.code, error.message);
        else this.fail(Status.INVALID_ARGUMENT, `Failed to parse the request message: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  #run(request: unknown): void {
    // The deadline may have passed or the client gone while a compressed body was inflating.
    if (this.#state !== RECEIVING) return;
    this.request = request;
    this.#state = HANDLING;
    try {
      this.method.handler(this);
    } catch (error) {
      this.#server.handlerError(error, this.method.path);
      this.fail(Status.INTERNAL, "Internal error");
    }
  }

  /** @internal a deadline beyond what a timer can hold is none. */
  startDeadline(ms: number): void {
    if (ms <= MAX_TIMER_MS) this.#timer = setTimeout(onDeadline, ms, this);
  }

  /** @internal the deadline passed: answer DEADLINE_EXCEEDED, then abort the handler's signal. */
  deadline(): void {
    this.#timer = undefined;
    if (this.#state === DONE) return;
    // A stream whose client does not read would hold its end behind flow control: cut it. (Not a unary answer:
    // its 504 is just being written.)
    const stuck = this.#wire.framing !== "unary" && this.#res.writableLength > 0;
    this.fail(Status.DEADLINE_EXCEEDED, "Deadline exceeded");
    if (stuck) destroyResponse(this.#res);
    this.#controller.abort(new DOMException("The call's deadline passed.", "TimeoutError"));
  }

  /** @internal the response closed: answered, or the client went away (cancel). */
  closed(): void {
    if (this.#state === DONE) return;
    this.#finish();
    this.#controller.abort(new DOMException("The client cancelled the call.", "AbortError"));
  }

  /** @internal fails before the handler ran (bad request). */
  reject(code: number, message: string): void {
    this.fail(code, message);
  }

  async #decode(body: Buffer): Promise<unknown> {
    const max = this.#server.maxReceiveMessageBytes;
    let payload: Buffer;
    if (this.#wire.framing === "unary") {
      payload = body;
      const encoding = first(this.#req.headers["content-encoding"]);
      if (encoding !== undefined && encoding !== "identity") payload = await gunzip(payload, max);
    } else {
      // One enveloped message (flags, length, bytes); for Connect streaming maybe an empty end-stream envelope.
      if (body.length < 5) throw new CallError(Status.INVALID_ARGUMENT, body.length === 0 ? "No request message received" : "Incomplete request message");
      const flags = body[0]!;
      const length = body.readUInt32BE(1);
      if (length > max) throw new CallError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${max})`);
      if (body.length < 5 + length) throw new CallError(Status.INVALID_ARGUMENT, "Incomplete request message");
      const rest = body.subarray(5 + length);
      if (rest.length > 0 && !(this.#wire.framing === "stream" && rest.length >= 5 && rest[0]! & FLAG_END_STREAM)) {
        throw new CallError(Status.INVALID_ARGUMENT, `More than one request message for ${this.method.kind} method ${this.method.path}`);
      }
      payload = body.subarray(5, 5 + length);
      if (flags & FLAG_COMPRESSED) {
        const encoding = first(this.#req.headers[this.#wire.framing === "stream" ? "connect-content-encoding" : "grpc-encoding"]);
        if (encoding === undefined || encoding === "identity") throw new CallError(Status.INVALID_ARGUMENT, "Compressed message without a message encoding");
        payload = await gunzip(payload, max);
      } else if (flags !== 0) {
        throw new CallError(Status.INVALID_ARGUMENT, `Invalid message flags ${flags}`);
      }
    }
    if (payload.length > max) throw new CallError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${payload.length} vs. ${max})`);
    if (!this.#wire.json) return this.method.decode(payload);
    const schema = this.method.schema;
    if (!schema) throw new CallError(Status.UNIMPLEMENTED, `${this.method.path} does not take JSON`);
    // JSON → the binary form → the method's own decoder: the same checks and measurements as on the gRPC port.
    const text = payload.length === 0 ? "{}" : payload.toString("utf8");
    return this.method.decode(toBinary(schema.input, fromJsonString(schema.input, text, JSON_READ)));
  }

  #encode(message: unknown): Uint8Array {
    if (!this.#wire.json) return this.method.encode(message);
    const schema = this.method.schema;
    if (!schema) throw new Error(`${this.method.path} has no schema for JSON`);
    return Buffer.from(toJsonString(schema.output, message as never));
  }

  #frame(payload: Uint8Array): Buffer {
    if (this.#gzipOut && payload.byteLength >= this.#server.compressMinBytes) return envelope(FLAG_COMPRESSED, zlib.gzipSync(payload));
    return envelope(0, payload);
  }

  #addHeaders(prefix: string, metadata: OutgoingMetadata): void {
    const headers = (this.#headers ??= {});
    for (const [key, value] of Object.entries(metadata)) {
      const name = prefix + key.toLowerCase();
      (headers[name] ??= []).push(...headerValues(key, value));
    }
  }

  #responseHeaders(contentType: string): string[] {
    const headers = ["content-type", contentType];
    if (this.#headers) for (const [name, values] of Object.entries(this.#headers)) for (const value of values) headers.push(name, value);
    if (this.#server.closing) headers.push("connection", "close");
    return headers;
  }

  #send(status: number, headers: string[], body: Uint8Array): void {
    const res = this.#res;
    if (res.destroyed || res.headersSent) return;
    try {
      this.#started = true;
      writeHead(res, status, headers);
      res.end(body);
    } catch (error) {
      this.#server.handlerError(error, this.method.path);
      destroyResponse(res);
    }
  }

  #startStream(): void {
    if (this.#started) return;
    this.#started = true;
    const headers = this.#responseHeaders(this.#wire.contentType);
    if (this.#gzipOut) headers.push(this.#wire.framing === "stream" ? "connect-content-encoding" : "grpc-encoding", "gzip");
    writeHead(this.#res, 200, headers);
  }

  /** Ends a stream: Connect's end-stream message, or gRPC-Web's trailers frame. */
  #endStream(code: number, message: string, details: Uint8Array | undefined, trailers: OutgoingMetadata | undefined): void {
    const res = this.#res;
    if (res.destroyed || res.writableEnded) return;
    let frame: Buffer;
    if (this.#wire.framing === "stream") {
      const end: { error?: unknown; metadata?: Record<string, string[]> } = {};
      if (code !== Status.OK) end.error = JSON.parse(errorJson(code, message, details));
      if (trailers) end.metadata = Object.fromEntries(Object.entries(trailers).map(([k, v]) => [k.toLowerCase(), headerValues(k, v)]));
      frame = envelope(FLAG_END_STREAM, Buffer.from(JSON.stringify(end)));
    } else {
      let text = `grpc-status: ${code}\r\n`;
      if (message) text += `grpc-message: ${encodeGrpcMessage(message)}\r\n`;
      if (details) text += `grpc-status-details-bin: ${Buffer.from(details).toString("base64").replace(/=+$/, "")}\r\n`;
      for (const [key, value] of Object.entries(trailers ?? {})) for (const v of headerValues(key, value)) text += `${key.toLowerCase()}: ${v}\r\n`;
      frame = envelope(FLAG_GRPC_WEB_TRAILERS, Buffer.from(text));
    }
    try {
      this.#startStream();
      res.end(frame);
    } catch (error) {
      this.#server.handlerError(error, this.method.path);
      destroyResponse(res);
    }
  }

  #finish(): void {
    this.#state = DONE;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const callbacks = this.#onDone;
    this.#onDone = undefined;
    runDoneCallbacks(callbacks, (error) => this.#server.handlerError(error, this.method.path));
  }
}

function onDeadline(call: ConnectCall): void {
  call.deadline();
}

const gunzipAsync = promisify(zlib.gunzip);

/** Inflates on zlib's thread pool (never on the event loop: a compression bomb must not stall other calls). */
async function gunzip(payload: Buffer, max: number): Promise<Buffer> {
  try {
    return await gunzipAsync(payload, { maxOutputLength: max + 1 });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw new CallError(Status.RESOURCE_EXHAUSTED, `Decompressed message larger than max (${max})`);
    throw new CallError(Status.INVALID_ARGUMENT, "Failed to decompress the request message (gzip)");
  }
}

function writeHead(res: Response, status: number, headers: string[]): void {
  if (res instanceof http.ServerResponse) {
    res.writeHead(status, headers);
    return;
  }
  // The HTTP/2 compatibility API takes an object; repeated names become arrays.
  const object: Record<string, string | string[]> = {};
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (name === "connection") continue; // connection-specific: not allowed in HTTP/2
    const existing = object[name];
    object[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  res.writeHead(status, object);
}

function destroyResponse(res: Response): void {
  try {
    if (res instanceof http.ServerResponse) res.socket?.destroy();
    else res.stream.close(http2.constants.NGHTTP2_CANCEL);
  } catch {
    // already gone
  }
}

/** A plain-text answer outside the RPC protocol (health, 404, 405, 415). */
function plain(res: Response, status: number, text: string, extra: string[] = []): void {
  try {
    writeHead(res, status, ["content-type", "text/plain; charset=utf-8", "content-length", String(Buffer.byteLength(text)), ...extra]);
    res.end(text);
  } catch {
    destroyResponse(res);
  }
}

type Connection = net.Socket | http2.Http2Session;

/** One connection's requests and timers, for max connection age and idle. */
class ConnectionState {
  /** Answers in progress on the connection. */
  readonly responses = new Set<Response>();
  /** Renewed (age or idle): takes no new requests; HTTP/1.1 closes after the answers in progress. */
  renewed = false;
  idleTimer: NodeJS.Timeout | undefined = undefined;
  readonly timers: NodeJS.Timeout[] = [];

  constructor(readonly connection: Connection) {}

  get http1(): boolean {
    return this.connection instanceof net.Socket;
  }
}

/** Connect (and gRPC-Web) on one port, over HTTP/1.1 and HTTP/2, running the gRPC transport's method definitions. */
export class ConnectServer implements TransportServer {
  readonly #methods = new Map<string, MethodDefinition>();
  readonly #options: ConnectServerOptions;
  readonly #http1: http.Server;
  readonly #http2: http2.Http2Server | http2.Http2SecureServer;
  /** The listening server: a net.Server sniffing the HTTP/2 preface (cleartext), or the TLS server itself. */
  readonly #listener: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  /** Connections watched for max age / idle (only when either is set). */
  readonly #connections = new WeakMap<Connection, ConnectionState>();
  #closed: Promise<void> | undefined;
  readonly compressMinBytes: number;
  readonly maxReceiveMessageBytes: number;

  constructor(options: ConnectServerOptions) {
    this.#options = options;
    this.compressMinBytes = options.compressMinBytes ?? 1024;
    this.maxReceiveMessageBytes = options.maxReceiveMessageBytes;
    const onRequest = (req: Request, res: Response) => this.#onRequest(req, res);
    this.#http1 = http.createServer({ keepAliveTimeout: options.keepAliveTimeoutMs ?? 65_000 }, onRequest);
    // node:http's defaults would cut a slow 64 MiB upload (requestTimeout 300 s is fine) — keep them, but not a
    // headers timeout shorter than the keep-alive one (Node requires headersTimeout <= requestTimeout).
    this.#http1.on("clientError", (_error, socket: net.Socket) => socket.destroy());
    const settings = { settings: { maxConcurrentStreams: 1000, initialWindowSize: 1024 * 1024 } };
    if (options.tls) {
      const secure = http2.createSecureServer({ ...settings, cert: options.tls.cert, key: options.tls.key, allowHTTP1: true }, onRequest);
      this.#http2 = secure;
      this.#listener = secure;
      secure.on("tlsClientError", noop);
      secure.on("connection", (socket: net.Socket) => this.#track(socket));
      // HTTP/1.1 over TLS: its requests arrive on the TLS socket (HTTP/2 ones on a session, watched below).
      secure.on("secureConnection", (socket: tls.TLSSocket) => {
        if (socket.alpnProtocol !== "h2") this.#watch(socket);
      });
    } else {
      this.#http2 = http2.createServer(settings, onRequest);
      this.#listener = net.createServer((socket) => this.#sniff(socket));
    }
    this.#http2.on("session", (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      session.on("error", noop);
      session.once("close", () => this.#sessions.delete(session));
      this.#watch(session);
      if (this.#closed) session.close();
    });
    this.#http2.on("sessionError", noop);
  }

  /** True once {@link close} was called: answers carry `connection: close` (HTTP/1.1). */
  get closing(): boolean {
    return this.#closed !== undefined;
  }

  add(method: MethodDefinition): this {
    this.#methods.set(method.path, method);
    return this;
  }

  listen(port: number, host: string): Promise<number> {
    const server = this.#listener;
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
   * Graceful: stops listening; HTTP/2 connections get GOAWAY, idle HTTP/1.1 connections are closed and busy ones
   * close after their answer (`connection: close`). Resolves when every connection has closed.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      let listening = true;
      const check = () => {
        if (!listening && this.#sockets.size === 0) resolve();
      };
      this.#listener.close(() => {
        listening = false;
        check();
      });
      this.#checkClosed = check;
      for (const session of this.#sessions) {
        try {
          session.close();
        } catch {
          // closing already
        }
      }
      this.#http1.closeIdleConnections();
    });
    return this.#closed;
  }

  destroy(): void {
    void this.close();
    for (const session of this.#sessions) session.destroy();
    for (const socket of this.#sockets) socket.destroy();
  }

  #checkClosed: () => void = noop;

  /** @internal a handler or callback threw. */
  handlerError(error: unknown, path: string): void {
    this.#options.onHandlerError?.(error, path);
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on("error", noop);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      this.#checkClosed();
    });
  }

  #emit(event: TransportEvent["event"], detail: Record<string, unknown>): void {
    this.#options.onEvent?.({ event, detail });
  }

  /** Starts the max-age (±10%, as the gRPC port) and idle clocks of a new connection, when either is set. */
  #watch(connection: Connection): void {
    const age = this.#options.maxConnectionAgeMs ?? 0;
    if (age <= 0 && (this.#options.maxConnectionIdleMs ?? 0) <= 0) return;
    const state = new ConnectionState(connection);
    this.#connections.set(connection, state);
    connection.once("close", () => {
      clearTimeout(state.idleTimer);
      for (const timer of state.timers) clearTimeout(timer);
    });
    if (age > 0) state.timers.push(setTimeout(() => this.#expire(state), Math.min(age * (0.9 + Math.random() * 0.2), MAX_TIMER_MS)).unref());
    this.#startIdle(state);
  }

  #startIdle(state: ConnectionState): void {
    const idle = this.#options.maxConnectionIdleMs ?? 0;
    if (idle <= 0 || state.renewed) return;
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      state.idleTimer = undefined;
      if (state.responses.size > 0 || state.renewed || state.connection.destroyed) return;
      this.#emit("connection_idle_closed", { idleMs: idle, protocol: "connect" });
      this.#renew(state, "max_connection_idle");
    }, Math.min(idle, MAX_TIMER_MS)).unref();
  }

  /** Max age: renewed now; answers still in progress after the grace are cut (the connection destroyed). */
  #expire(state: ConnectionState): void {
    if (state.renewed || state.connection.destroyed) return;
    this.#renew(state, "max_connection_age");
    const grace = Math.min(this.#options.maxConnectionAgeGraceMs ?? DEFAULT_MAX_CONNECTION_AGE_GRACE_MS, MAX_TIMER_MS);
    const hard = setTimeout(() => {
      const connection = state.connection;
      if (connection.destroyed) return;
      this.#emit("connection_age_closed", { calls: state.responses.size, graceMs: grace, protocol: "connect" });
      connection.destroy();
    }, grace).unref();
    state.timers.push(hard);
  }

  /**
   * No new requests on the connection: HTTP/2 gets GOAWAY (node closes it once its streams are done); an idle
   * HTTP/1.1 socket is closed, a busy one answers with `connection: close` and is closed after its answers.
   */
  #renew(state: ConnectionState, reason: string): void {
    state.renewed = true;
    clearTimeout(state.idleTimer);
    const connection = state.connection;
    this.#emit("goaway_sent", { reason, protocol: "connect", http: state.http1 ? "1.1" : "2" });
    if (connection instanceof net.Socket) {
      // node:http writes `connection: close` and closes the socket after an answer not keeping it alive; answers
      // whose headers are out already are followed by a close in #requestStarted's close handler.
      if (state.responses.size === 0) connection.destroySoon();
      else for (const res of state.responses) (res as http.ServerResponse).shouldKeepAlive = false;
      return;
    }
    try {
      connection.close();
    } catch {
      // closing already
    }
  }

  /** Counts the request on its connection (max age and idle): a renewed HTTP/1.1 connection closes after it. */
  #requestStarted(req: Request, res: Response): void {
    const connection = res instanceof http.ServerResponse ? req.socket : (req as http2.Http2ServerRequest).stream.session;
    const state = connection && this.#connections.get(connection);
    if (!state) return;
    state.responses.add(res);
    clearTimeout(state.idleTimer);
    state.idleTimer = undefined;
    if (state.renewed && res instanceof http.ServerResponse) res.shouldKeepAlive = false;
    res.once("close", () => {
      state.responses.delete(res);
      if (state.responses.size > 0) return;
      if (!state.renewed) this.#startIdle(state);
      else if (state.connection instanceof net.Socket && !state.connection.destroyed) state.connection.destroySoon();
    });
  }

  /** Cleartext: HTTP/2 with prior knowledge starts with the connection preface; anything else is HTTP/1.1. */
  #sniff(socket: net.Socket): void {
    this.#track(socket);
    let head: Buffer = Buffer.alloc(0);
    // A connection that never sends a request (a port scan, a TCP health check left open) is not kept forever.
    const silent = setTimeout(() => {
      this.#options.onEvent?.({ event: "handshake_timeout", detail: { protocol: "connect" } });
      socket.destroy();
    }, this.#options.firstBytesTimeoutMs ?? FIRST_BYTES_TIMEOUT_MS);
    socket.once("close", () => clearTimeout(silent));
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, HTTP2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      if (isH2 && n < HTTP2_PREFACE.length) return; // could still be HTTP/2: wait for more
      clearTimeout(silent);
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      // node:http2 reads what is buffered on the socket when the session starts; node:http needs it flowing.
      if (isH2) this.#http2.emit("connection", socket);
      else {
        this.#watch(socket);
        this.#http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }

  #onRequest(req: Request, res: Response): void {
    this.#requestStarted(req, res);
    try {
      this.#route(req, res);
    } catch (error) {
      this.handlerError(error, String(req.url));
      destroyResponse(res);
    }
  }

  #route(req: Request, res: Response): void {
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const path = query < 0 ? url : url.slice(0, query);
    if (HEALTH_PATHS.includes(path)) {
      req.resume();
      const healthy = this.#options.healthy?.() ?? true;
      plain(res, healthy ? 200 : 503, healthy ? "OK" : "Service Unavailable", this.closing ? ["connection", "close"] : []);
      return;
    }
    const method = this.#methods.get(path);
    const wire = wireOf(req.headers["content-type"]);
    if (!method) {
      req.resume();
      const body = errorJson(Status.UNIMPLEMENTED, `Method not found: ${path}`, undefined);
      return plainJson(res, 404, body, wire);
    }
    if (req.method !== "POST") {
      req.resume();
      return plain(res, 405, "Method Not Allowed", ["allow", "POST"]);
    }
    // Connect frames unary and streaming calls differently; gRPC-Web frames both alike.
    if (!wire || (wire.framing !== "grpc-web" && (wire.framing === "unary") !== (method.kind === "unary"))) {
      req.resume();
      return plain(res, 415, "Unsupported Media Type", ["accept-post", ACCEPT_POST]);
    }
    const call = new ConnectCall(this, req, res, method, wire);
    res.once("close", () => {
      call.closed();
      // Draining: an HTTP/1.1 connection whose answer began before close() is idle now: close it.
      if (this.closing) setImmediate(() => this.#http1.closeIdleConnections());
    });
    const max = this.maxReceiveMessageBytes;
    // Unary bodies are the message; enveloped ones carry 5 bytes per message (and maybe an end-stream envelope).
    const limit = wire.framing === "unary" ? max : max + 64;
    const bad = this.#badRequest(req, wire);
    if (bad) return this.#rejectEarly(call, res, bad.code, bad.message);
    const declared = Number(first(req.headers["content-length"]) ?? NaN);
    if (declared > limit) return this.#rejectEarly(call, res, Status.RESOURCE_EXHAUSTED, `Received message larger than max (${declared} vs. ${max})`);
    const timeout = parseConnectTimeout(wire.framing === "grpc-web" ? undefined : req.headers["connect-timeout-ms"]);
    const grpcTimeout = wire.framing === "grpc-web" ? parseGrpcWebTimeout(req.headers["grpc-timeout"]) : undefined;
    if (Number.isNaN(timeout) || Number.isNaN(grpcTimeout)) return this.#rejectEarly(call, res, Status.INVALID_ARGUMENT, "Malformed timeout header");
    const chunks: Buffer[] = [];
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      if (call.done) return;
      received += chunk.length;
      if (received > limit) return this.#rejectEarly(call, res, Status.RESOURCE_EXHAUSTED, `Received message larger than max (${received} vs. ${max})`);
      chunks.push(chunk);
    });
    req.on("end", () => call.start(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)));
    req.on("error", noop);
    const ms = timeout ?? grpcTimeout;
    if (ms !== undefined) call.startDeadline(ms);
  }

  /** Header problems that fail the call before its body is read. */
  #badRequest(req: Request, wire: Wire): { code: number; message: string } | undefined {
    const name = wire.framing === "unary" ? "content-encoding" : wire.framing === "stream" ? "connect-content-encoding" : "grpc-encoding";
    const encoding = first(req.headers[name]);
    if (encoding !== undefined && encoding !== "identity" && encoding !== "gzip") {
      return { code: Status.UNIMPLEMENTED, message: `${name} ${encoding} is not supported (supported: ${ACCEPT_ENCODING})` };
    }
    const version = first(req.headers["connect-protocol-version"]);
    if (version !== undefined && version !== "1" && wire.framing !== "grpc-web") {
      return { code: Status.INVALID_ARGUMENT, message: `connect-protocol-version must be "1", got "${version}"` };
    }
    return undefined;
  }

  /** Answers before the request body is read; HTTP/1.1 closes the connection (the unread body cannot be skipped). */
  #rejectEarly(call: ConnectCall, res: Response, code: number, message: string): void {
    if (res instanceof http.ServerResponse) res.shouldKeepAlive = false;
    call.reject(code, message);
  }
}

/** Connect's JSON error for a path that names no method (404), in the content type's framing where one was given. */
function plainJson(res: Response, status: number, body: string, wire: Wire | undefined): void {
  if (wire?.framing === "grpc-web") {
    // gRPC-Web clients read the status from the headers.
    writeHead(res, 200, ["content-type", "application/grpc-web+proto", "grpc-status", String(Status.UNIMPLEMENTED), "grpc-message", encodeGrpcMessage((JSON.parse(body) as { message: string }).message), "content-length", "0"]);
    res.end();
    return;
  }
  if (wire?.framing === "stream") {
    const frame = envelope(FLAG_END_STREAM, Buffer.from(JSON.stringify({ error: JSON.parse(body) as unknown })));
    writeHead(res, 200, ["content-type", wire.contentType, "content-length", String(frame.length)]);
    res.end(frame);
    return;
  }
  writeHead(res, status, ["content-type", "application/json", "content-length", String(Buffer.byteLength(body))]);
  res.end(body);
}

const GRPC_TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

function parseGrpcWebTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === "string" ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  if (!match) return NaN;
  return Number(match[1]) * GRPC_TIMEOUT_UNIT_MS[match[2]!]!;
}

