// The native transport (server.ts) against real clients: @grpc/grpc-js and raw node:http2 sessions (for what a
// gRPC client library hides: resets, GOAWAYs, flow control, malformed framing). Each defect of issue 10 has a
// test here that failed before its fix.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { once } from "node:events";
import zlib from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { GrpcServer, type NativeTransportOptions } from "./server.js";
import { Status } from "./status.js";
import type { MethodDefinition, ServerCall, TransportEvent } from "./types.js";

const identity = { decode: (bytes: Uint8Array) => Buffer.from(bytes), encode: (message: unknown) => message as Buffer };

function method(path: string, kind: MethodDefinition["kind"], handler: (call: ServerCall) => void, extra: Partial<MethodDefinition> = {}): MethodDefinition {
  return { path, kind, ...identity, handler, ...extra };
}

/** The health probe of the tests: answers at once. */
const PING = method("/test.T/Ping", "unary", (call) => call.respond(Buffer.from("pong")));

interface Started {
  server: GrpcServer;
  port: number;
  events: TransportEvent[];
  errors: unknown[];
  address: string;
}

async function start(methods: MethodDefinition[], options: Partial<NativeTransportOptions> = {}): Promise<Started> {
  const events: TransportEvent[] = [];
  const errors: unknown[] = [];
  const server = new GrpcServer({ maxReceiveMessageBytes: 4 * 1024 * 1024, onEvent: (e) => events.push(e), onHandlerError: (e) => errors.push(e), ...options });
  for (const m of [PING, ...methods]) server.add(m);
  const port = await server.listen(0, "127.0.0.1");
  return { server, port, events, errors, address: `127.0.0.1:${port}` };
}

function frame(payload: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

interface RawResult {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  data: Buffer;
  rstCode: number | undefined;
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  status: string | undefined;
  message: string | undefined;
}

/** One call on a raw HTTP/2 session: sends `body` (and ends unless `end` is false), resolves when the stream closes. */
function raw(session: http2.ClientHttp2Session, path: string, body: Buffer | undefined, headers: Record<string, string> = {}, opts: { end?: boolean } = {}) {
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
  stream.on("error", () => {});
  let responseHeaders: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders | undefined;
  const chunks: Buffer[] = [];
  stream.on("response", (h) => (responseHeaders = h));
  stream.on("trailers", (t) => (trailers = t));
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  if (body) stream.write(body);
  if (opts.end !== false) stream.end();
  const result = new Promise<RawResult>((resolve) =>
    stream.on("close", () => {
      const source = trailers ?? responseHeaders;
      resolve({
        headers: responseHeaders,
        trailers,
        data: Buffer.concat(chunks),
        rstCode: stream.rstCode,
        status: source["grpc-status"] as string | undefined,
        message: source["grpc-message"] as string | undefined,
      });
    }),
  );
  return { stream, result };
}

function connect(port: number): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  return session;
}

function grpcClient(address: string, options: grpc.ClientOptions = {}): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1, ...options });
}

const ser = (b: Buffer) => b;
const des = (b: Buffer) => b;

interface UnaryOutcome {
  error: grpc.ServiceError | null;
  value: Buffer | undefined;
  headers: grpc.Metadata | undefined;
  trailers: grpc.Metadata | undefined;
}

function unary(client: grpc.Client, path: string, request: Buffer, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<UnaryOutcome> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    let settled: { error: grpc.ServiceError | null; value: Buffer | undefined } | undefined;
    let statusSeen = false;
    const finish = () => {
      if (settled && statusSeen) resolve({ ...settled, headers, trailers });
    };
    const call = client.makeUnaryRequest(path, ser, des, request, metadata, options, (error, value) => {
      settled = { error, value };
      finish();
    });
    call.on("metadata", (m) => (headers = m));
    call.on("status", (s) => {
      trailers = s.metadata;
      statusSeen = true;
      finish();
    });
  });
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

// ---------------------------------------------------------------- the ServerCall contract

test("metadata both ways: -bin request metadata decoded, response headers and -bin trailers reach grpc-js", async (t) => {
  const seen: { bin: readonly unknown[]; plain: string | undefined; binHeader: string | undefined; missing: readonly unknown[] }[] = [];
  const s = await start([
    method("/test.T/Echo", "unary", (call) => {
      seen.push({ bin: call.metadata("x-token-bin"), plain: call.header("x-plain"), binHeader: call.header("x-token-bin"), missing: call.metadata("x-none") });
      assert.equal(call.protocol, "grpc");
      call.sendHeaders({ "x-echo-bin": call.metadata("x-token-bin") as Buffer[], "x-plain": "headers" });
      call.respond(call.request, { "x-trailer-bin": Buffer.from([0xff, 0x00, 0x01]), "x-t": ["a", "b"], "grpc-status": "13" });
    }),
  ]);
  const client = grpcClient(s.address);
  t.after(() => {
    client.close();
    s.server.destroy();
  });
  const metadata = new grpc.Metadata();
  metadata.add("x-token-bin", Buffer.from([1, 2, 3, 250]));
  metadata.add("x-token-bin", Buffer.from([7]));
  metadata.add("x-plain", "hello");
  const out = await unary(client, "/test.T/Echo", Buffer.from("req"), metadata);
  assert.equal(out.error, null);
  assert.deepEqual(out.value, Buffer.from("req"));
  assert.deepEqual(seen[0]?.bin, [Buffer.from([1, 2, 3, 250]), Buffer.from([7])]);
  assert.equal(seen[0]?.plain, "hello");
  assert.equal(seen[0]?.binHeader, undefined, "header() gives no -bin value");
  assert.deepEqual(seen[0]?.missing, []);
  assert.deepEqual(out.headers?.get("x-echo-bin"), [Buffer.from([1, 2, 3, 250]), Buffer.from([7])]);
  assert.deepEqual(out.headers?.get("x-plain"), ["headers"]);
  assert.deepEqual(out.trailers?.get("x-trailer-bin"), [Buffer.from([0xff, 0x00, 0x01])]);
  // Two header fields on the wire; node's client joins repeated headers (and grpc-js keeps the joined value).
  assert.deepEqual(out.trailers?.get("x-t"), ["a, b"]);
});

test("fail() sends grpc-status-details-bin (base64 without padding) and trailers; trailers-only and after a message", async (t) => {
  const details = Buffer.from([8, 3, 18, 4, 0x62, 0x61, 0x64, 0x21]); // any bytes: length 8 needs padding in base64
  const s = await start([
    method("/test.T/Fail", "unary", (call) => call.fail(Status.INVALID_ARGUMENT, "bad input ✗", { details, trailers: { "x-why-bin": Buffer.from("why") } })),
    method("/test.T/StreamFail", "server_streaming", (call) => {
      call.write(Buffer.from("one"));
      call.fail(Status.ABORTED, "stopped", { details });
    }),
  ]);
  const client = grpcClient(s.address);
  const session = connect(s.port);
  t.after(() => {
    client.close();
    session.close();
    s.server.destroy();
  });
  const out = await unary(client, "/test.T/Fail", Buffer.from("x"));
  assert.equal(out.error?.code, Status.INVALID_ARGUMENT);
  assert.equal(out.error?.details, "bad input ✗");
  assert.deepEqual(out.error?.metadata.get("grpc-status-details-bin"), [details]);
  assert.deepEqual(out.error?.metadata.get("x-why-bin"), [Buffer.from("why")]);

  const rawOut = await raw(session, "/test.T/Fail", frame(Buffer.from("x"))).result;
  assert.equal(rawOut.trailers, undefined, "trailers-only");
  assert.equal(rawOut.headers["grpc-status-details-bin"], details.toString("base64").replace(/=+$/, ""));
  assert.ok(!String(rawOut.headers["grpc-status-details-bin"]).endsWith("="));

  const streamed = await raw(session, "/test.T/StreamFail", frame(Buffer.from("x"))).result;
  assert.equal(streamed.status, String(Status.ABORTED));
  assert.equal(streamed.trailers?.["grpc-status-details-bin"], details.toString("base64").replace(/=+$/, ""));
});

test("respond() and write() fail the call INTERNAL, then throw, when the message cannot be encoded", async (t) => {
  const thrown: unknown[] = [];
  const broken = { decode: identity.decode, encode: () => { throw new Error("cannot encode"); } };
  const s = await start([
    { path: "/test.T/Unary", kind: "unary", ...broken, handler: (call) => { try { call.respond({}); } catch (e) { thrown.push(e); } } },
    { path: "/test.T/Stream", kind: "server_streaming", ...broken, handler: (call) => { try { call.write({}); } catch (e) { thrown.push(e); } } },
  ]);
  const session = connect(s.port);
  t.after(() => {
    session.close();
    s.server.destroy();
  });
  const a = await raw(session, "/test.T/Unary", frame(Buffer.from("x"))).result;
  const b = await raw(session, "/test.T/Stream", frame(Buffer.from("x"))).result;
  assert.equal(a.status, String(Status.INTERNAL));
  assert.equal(b.status, String(Status.INTERNAL));
  assert.equal(thrown.length, 2);
  assert.match(String(thrown[0]), /cannot encode/);
});

test("bidi: messages are collected until the half-close, then the handler answers with write/end (grpc-js)", async (t) => {
  const s = await start([
    method("/test.T/Bidi", "bidi_streaming", (call) => {
      for (const request of call.requests) call.write(Buffer.concat([Buffer.from("echo:"), request as Buffer]));
      call.end({ "x-count": String(call.requests.length) });
    }),
  ]);
  const client = grpcClient(s.address);
  t.after(() => {
    client.close();
    s.server.destroy();
  });
  const call = client.makeBidiStreamRequest("/test.T/Bidi", ser, des);
  const received: string[] = [];
  call.on("data", (b: Buffer) => received.push(b.toString()));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {});
  call.write(Buffer.from("header"));
  call.write(Buffer.alloc(300_000, 1)); // spans several DATA frames
  call.write(Buffer.from("last"));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(received.length, 0, "nothing answered before the half-close");
  call.end();
  const st = await status;
  assert.equal(st.code, Status.OK);
  assert.deepEqual(st.metadata.get("x-count"), ["3"]);
  assert.equal(received.length, 3);
  assert.equal(received[0], "echo:header");
  assert.equal(received[1]!.length, 5 + 300_000);
  assert.equal(received[2], "echo:last");
});

test("bidi: requestsComplete runs the handler before the half-close; compressed messages are inflated in order", async (t) => {
  const s = await start([
    method(
      "/test.T/Sync",
      "bidi_streaming",
      (call) => {
        call.write(Buffer.from(call.requests.map((r) => (r as Buffer).toString()).join("+")));
        call.end();
      },
      { requestsComplete: (requests) => requests.length === 2 },
    ),
  ]);
  const session = connect(s.port);
  t.after(() => {
    session.close();
    s.server.destroy();
  });
  const big = "z".repeat(100_000);
  const { stream, result } = raw(session, "/test.T/Sync", Buffer.concat([frame(zlib.gzipSync(big), true), frame(Buffer.from("inputs"))]), { "grpc-encoding": "gzip" }, { end: false });
  const expected = `${big}+inputs`;
  const answer = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length >= 5 + expected.length) resolve(all);
    });
  });
  assert.ok(answer.subarray(5).toString() === expected, "the handler answered before the half-close, messages in order");
  stream.end();
  assert.equal((await result).status, "0");
});

test("bidi: each message is bounded by maxReceiveMessageBytes, all of them by twice it", async (t) => {
  let ran = 0;
  const s = await start([method("/test.T/Bidi", "bidi_streaming", (call) => { ran++; call.end(); })], { maxReceiveMessageBytes: 1000 });
  const session = connect(s.port);
  t.after(() => {
    session.close();
    s.server.destroy();
  });
  const one = await raw(session, "/test.T/Bidi", frame(Buffer.alloc(1001))).result;
  assert.equal(one.status, String(Status.RESOURCE_EXHAUSTED));
  const many = await raw(session, "/test.T/Bidi", Buffer.concat([frame(Buffer.alloc(900)), frame(Buffer.alloc(900)), frame(Buffer.alloc(900))])).result;
  assert.equal(many.status, String(Status.RESOURCE_EXHAUSTED));
  assert.match(many.message ?? "", /together/);
  const ok = await raw(session, "/test.T/Bidi", Buffer.concat([frame(Buffer.alloc(900)), frame(Buffer.alloc(900))])).result;
  assert.equal(ok.status, "0");
  assert.equal(ran, 1);
  const truncated = await raw(session, "/test.T/Bidi", frame(Buffer.alloc(10)).subarray(0, 8)).result;
  assert.equal(truncated.status, String(Status.INTERNAL));
});
