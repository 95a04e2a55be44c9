// Raw HTTP/2 for the cases no official client can express: wrong methods and content types, hand-made frames
// (compressed flags, encodings, every grpc-timeout unit), paused readers, floods and idle or slow connections.
import http2 from "node:http2";
import net from "node:net";
import { HEALTH_CHECK } from "./methods.js";

export function connect(port: number, options: http2.ClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`, options);
    session.once("connect", () => {
      session.off("error", reject);
      session.on("error", () => {});
      resolve(session);
    });
    session.once("error", reject);
  });
}

/** A length-prefixed gRPC message. */
export function grpcFrame(message: Uint8Array, compressed = false): Buffer {
  const frame = Buffer.alloc(5 + message.byteLength);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/** The messages of a gRPC response body. */
export function grpcMessages(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset + 5 <= data.length; ) {
    const length = data.readUInt32BE(offset + 1);
    out.push(data.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return out;
}

export interface RawResponse {
  status: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  grpcStatus: number | undefined;
  grpcMessage: string | undefined;
  /** The headers ended the stream (trailers-only, or an HTTP error). */
  trailersOnly: boolean;
  data: Buffer;
  /** RST_STREAM code when the server reset the stream. */
  rstCode: number;
  ms: number;
}

export interface RawRequest {
  path: string;
  /** Request headers besides the defaults (POST, content-type application/grpc, te trailers); null removes one. */
  headers?: Record<string, string | null>;
  /** Body chunks (already framed). */
  body?: Buffer | Buffer[];
  /** Half-close after the body. Default true. */
  endStream?: boolean;
  /** Do not read the response (flow control: the server's data waits). */
  paused?: boolean;
}

/** One request on `session`; resolves when the stream closes. */
export function rawRequest(session: http2.ClientHttp2Session, request: RawRequest): Promise<RawResponse> & { stream: http2.ClientHttp2Stream } {
  const headers: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": request.path, "content-type": "application/grpc", te: "trailers" };
  for (const [key, value] of Object.entries(request.headers ?? {})) {
    if (value === null) delete headers[key];
    else headers[key] = value;
  }
  const started = performance.now();
  const endStream = request.endStream ?? true;
  const body = request.body === undefined ? [] : Array.isArray(request.body) ? request.body : [request.body];
  const stream = session.request(headers, { endStream: endStream && body.length === 0 });
  const promise = new Promise<RawResponse>((resolve) => {
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    let trailersOnly = false;
    const chunks: Buffer[] = [];
    stream.on("response", (h, flags) => {
      responseHeaders = h;
      trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.on("error", () => {});
    stream.on("close", () => {
      const source = trailers ?? responseHeaders;
      const status = source["grpc-status"];
      resolve({
        status: Number(responseHeaders[":status"] ?? 0),
        headers: responseHeaders,
        trailers,
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: source["grpc-message"] as string | undefined,
        trailersOnly,
        data: Buffer.concat(chunks),
        rstCode: stream.rstCode ?? 0,
        ms: performance.now() - started,
      });
    });
    if (request.paused) stream.pause();
  });
  body.forEach((chunk, i) => (i === body.length - 1 && endStream ? stream.end(chunk) : stream.write(chunk)));
  return Object.assign(promise, { stream });
}

/**
 * Health checks every `intervalMs` on a connection of its own: the longest wait shows how long the server's event
 * loop was blocked (or its connections starved) while something else went on.
 */
export async function healthProbe(port: number, intervalMs = 25) {
  const session = await connect(port);
  let running = true;
  let max = 0;
  let ok = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const response = await Promise.race([
        rawRequest(session, { path: HEALTH_CHECK, body: grpcFrame(new Uint8Array()) }),
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 20_000))),
      ]);
      clearTimeout(timer);
      const ms = performance.now() - started;
      max = Math.max(max, ms);
      if (response?.grpcStatus === 0) ok++;
      else failures.push(response ? `status ${response.grpcStatus} http ${response.status} rst ${response.rstCode}` : "no answer in 20 s");
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      session.destroy();
      return { maxMs: max, ok, failures };
    },
  };
}

/** An HTTP/2 frame. */
export function h2frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** An HPACK "literal header field without indexing" whose name is static-table entry `nameIndex`. */
function hpackLiteral(nameIndex: number, value: string): Buffer {
  const name = nameIndex < 15 ? [nameIndex] : [0x0f, nameIndex - 15];
  return Buffer.from([...name, value.length, ...Buffer.from(value)]);
}

/**
 * The HEADERS block of a gRPC request to `path` (HPACK static table: 0x83 `:method POST`, 0x86 `:scheme http`,
 * 4 `:path`, 1 `:authority`, 31 `content-type`), so floods can be written as bytes without a client's CPU cost.
 */
export function requestHeaderBlock(path: string): Buffer {
  return Buffer.concat([Buffer.from([0x83, 0x86]), hpackLiteral(4, path), hpackLiteral(1, "127.0.0.1"), hpackLiteral(31, "application/grpc")]);
}

/** Reads what the server sent on a raw connection for `ms`; returns the error codes of its GOAWAY frames. */
export async function goawaysFrom(s: net.Socket, ms: number): Promise<number[]> {
  const chunks: Buffer[] = [];
  s.on("data", (d: Buffer) => chunks.push(d));
  s.resume();
  await new Promise((r) => setTimeout(r, ms));
  const data = Buffer.concat(chunks);
  const codes: number[] = [];
  for (let offset = 0; offset + 9 <= data.length; ) {
    const length = data.readUIntBE(offset, 3);
    if (data[offset + 3] === 0x7 && offset + 17 <= data.length) codes.push(data.readUInt32BE(offset + 13));
    offset += 9 + length;
  }
  return codes;
}

/** A TCP connection to `port` (raw bytes), reading and dropping what the server sends (pause() to stop reading). */
export function socket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.off("error", reject);
      s.on("error", () => {});
      s.resume(); // flowing (what the server sends is dropped), so a close by the server is seen
      resolve(s);
    });
    s.once("error", reject);
  });
}

