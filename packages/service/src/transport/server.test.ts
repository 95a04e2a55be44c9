// The native transport (server.ts) against real clients: @grpc/grpc-js and raw node:http2 sessions (for what a
// gRPC client library hides: resets, GOAWAYs, flow control, malformed framing). Each defect of issue 10 has a
// test here that failed before its fix.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";
import v8 from "node:v8";
import vm from "node:vm";
import zlib from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { GrpcServer, type NativeTransportOptions } from "./server.js";
import { Status } from "./status.js";
import type { MethodDefinition, ServerCall, TransportEvent } from "./types.js";
import { selfSignedCertificate } from "../testing/tls.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
/** ArrayBuffer memory (Buffers) after a full GC, in MiB. */
function buffersMiB(): number {
  gc();
  return process.memoryUsage().arrayBuffers / 1024 / 1024;
}

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

// ---------------------------------------------------------------- issue 10's defects

/** A raw client socket that speaks just enough HTTP/2 to open a connection (preface + empty SETTINGS). */
const PREFACE = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

function h2frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** Resolves with ms until `socket` is closed by the server, or undefined if it is still open after `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<number | undefined> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

function rawSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", () => {});
    socket.on("data", () => {});
  });
}

/** Health probe on its own connection: a Ping every 10 ms; reports the slowest answer. */
function probe(port: number) {
  const session = connect(port);
  let worst = 0;
  let answered = 0;
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const out = await raw(session, "/test.T/Ping", frame(Buffer.from("p"))).result;
      worst = Math.max(worst, performance.now() - t0);
      if (out.status === "0") answered++;
      else failed++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      session.close();
      return { worstMs: Math.round(worst), answered, failed };
    },
  };
}

test("issue 10 #3: zero or two request messages on a unary or server-streaming call → UNIMPLEMENTED (as grpc-js)", async (t) => {
  const s = await start([method("/test.T/Stream", "server_streaming", (call) => call.end())]);
  const session = connect(s.port);
  t.after(() => {
    session.close();
    s.server.destroy();
  });
  const none = await raw(session, "/test.T/Ping", undefined).result;
  const two = await raw(session, "/test.T/Ping", Buffer.concat([frame(Buffer.from("a")), frame(Buffer.from("b"))])).result;
  const streamNone = await raw(session, "/test.T/Stream", undefined).result;
  console.log(`# zero messages → ${none.status}, two → ${two.status}, server streaming zero → ${streamNone.status}`);
  assert.equal(none.status, String(Status.UNIMPLEMENTED));
  assert.equal(two.status, String(Status.UNIMPLEMENTED));
  assert.equal(streamNone.status, String(Status.UNIMPLEMENTED));
});

// Before the tests that leave large buffers behind for a while (its memory baseline must hold still).
test("issue 10 #7: a deadline frees an answered-but-unsent unary response (stream reset with CANCEL)", async (t) => {
  const answer = Buffer.alloc(600 * 1024, 3);
  let answered = 0;
  const s = await start([method("/test.T/Answer", "unary", (call) => (answered++, call.respond(answer)))]);
  // A client that stops reading: small windows, streams paused.
  const session = http2.connect(`http://127.0.0.1:${s.port}`, { settings: { initialWindowSize: 16 * 1024 } });
  session.on("error", () => {});
  t.after(() => {
    session.destroy();
    s.server.destroy();
  });
  // Baseline once the buffers of earlier tests are gone.
  let base = buffersMiB();
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = buffersMiB();
    if (Math.abs(now - base) < 1) break;
    base = now;
  }
  const calls = Array.from({ length: 100 }, () => {
    const r = raw(session, "/test.T/Answer", frame(Buffer.from("x")), { "grpc-timeout": "1S" });
    r.stream.pause();
    return r;
  });
  const t0 = Date.now();
  await until(() => answered === 100, 2000, "every call answered");
  const held = buffersMiB() - base;
  const settled = await Promise.race([Promise.all(calls.map((c) => c.result)), new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  const open = settled === undefined ? calls.filter((c) => !c.stream.closed).length : 0;
  // The reset streams' buffers are released once node completes their writes: give it a moment.
  let left = buffersMiB() - base;
  for (let i = 0; i < 20 && left >= held / 4; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = buffersMiB() - base;
  }
  console.log(
    `# 100 × 600 KB unread, deadline 1 s: ${held.toFixed(1)} MiB held before the deadline, ${left.toFixed(1)} MiB after; ` +
      (settled ? `all reset after ${Date.now() - t0} ms, codes ${[...new Set(settled.map((r) => r.rstCode))].join(",")}` : `${open} streams still open after 3 s`),
  );
  assert.ok(settled, `${open} answers still held 3 s after their deadline`);
  assert.ok(held > 30, "the unsent answers were held (the test reproduces the situation)");
  assert.ok(left < held / 4, `${left.toFixed(1)} MiB still held after the deadline`);
  assert.ok(settled.every((r) => r.rstCode === http2.constants.NGHTTP2_CANCEL));
});

test("issue 10 #2: 20 × 65 KB gzip bombs (64 MiB each) do not stall the event loop: a probe on another connection keeps answering", async (t) => {
  const MAX = 64 * 1024 * 1024;
  const s = await start([{ path: "/test.T/Sink", kind: "unary", decode: (b: Uint8Array) => b.length, encode: () => Buffer.alloc(0), handler: (call) => call.respond(undefined) }], {
    maxReceiveMessageBytes: MAX,
  });
  const bomb = frame(zlib.gzipSync(Buffer.alloc(MAX - 1024), { level: 9 }), true);
  const session = connect(s.port);
  t.after(() => {
    session.close();
    s.server.destroy();
  });
  await raw(session, "/test.T/Ping", frame(Buffer.from("warm"))).result;
  const p = probe(s.port);
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: 20 }, () => raw(session, "/test.T/Sink", bomb, { "grpc-encoding": "gzip" }).result));
  const elapsed = Math.round(performance.now() - t0);
  const probeResult = await p.stop();
  const statuses = results.map((r) => r.status);
  console.log(`# bomb ${bomb.length} B × 20: ${elapsed} ms, probe worst ${probeResult.worstMs} ms (${probeResult.answered} answered), statuses ${[...new Set(statuses)].join(",")}`);
  assert.ok(statuses.every((st) => st !== undefined), "every bomb answered with a status");
  assert.equal(probeResult.failed, 0);
  // Synchronous inflation stalled the probe for seconds; off the event loop it answers within a blink.
  assert.ok(probeResult.worstMs < 1000, `probe stalled ${probeResult.worstMs} ms`);
  assert.equal(s.server.bufferedRequestBytes, 0, "budget released");
});

test("issue 10 #1: 200 concurrent unary calls answering 1 MiB each on one connection: none refused (grpc-js client)", async (t) => {
  const MiB = Buffer.alloc(1024 * 1024, 7);
  const s = await start([method("/test.T/Big", "unary", (call) => call.respond(MiB))]);
  const client = grpcClient(s.address);
  t.after(() => {
    client.close();
    s.server.destroy();
  });
  // Calls start while earlier answers are still queued (10 per event-loop turn, as from a client in another
  // process): that is when nghttp2's session memory cap refused them.
  const pending: Promise<UnaryOutcome>[] = [];
  for (let i = 0; i < 200; i++) {
    pending.push(unary(client, "/test.T/Big", Buffer.from("x")));
    if (i % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  const results = await Promise.all(pending);
  const refused = results.filter((r) => r.error !== null);
  console.log(`# 200 × 1 MiB on one connection: ${refused.length} failed ${[...new Set(refused.map((r) => r.error?.code))].join(",")}`);
  assert.equal(refused.length, 0);
  assert.ok(results.every((r) => r.value?.length === MiB.length));
});

test("issue 10 #1: 100 log streams whose client does not read, then 150 unary calls on the same connection: all succeed", async (t) => {
  const part = Buffer.alloc(1024 * 1024, 1);
  const s = await start([
    method("/test.T/Logs", "server_streaming", (call) => {
      void (async () => {
        for (let i = 0; i < 4 && !call.done; i++) if (!call.write(part)) await call.drained();
        call.end();
      })();
    }),
  ]);
  const session = connect(s.port);
  t.after(() => {
    session.destroy();
    s.server.destroy();
  });
  const logs = Array.from({ length: 100 }, () => {
    const r = raw(session, "/test.T/Logs", frame(Buffer.from("x")));
    r.stream.pause(); // never read
    return r;
  });
  await new Promise((r) => setTimeout(r, 500));
  const results = await Promise.all(Array.from({ length: 150 }, () => raw(session, "/test.T/Ping", frame(Buffer.from("x"))).result));
  const ok = results.filter((r) => r.status === "0").length;
  console.log(`# 150 unary calls after 100 unread streams: ${ok} ok, rst codes ${[...new Set(results.map((r) => r.rstCode))].join(",")}`);
  assert.equal(ok, 150);
  for (const l of logs) l.stream.close(http2.constants.NGHTTP2_CANCEL);
});

test("issue 10 #8: calls still open when destroy() runs are reset with CANCEL, not NO_ERROR", async (t) => {
  const s = await start([method("/test.T/Hang", "unary", () => {})]);
  const session = connect(s.port);
  t.after(() => session.destroy());
  const calls = Array.from({ length: 3 }, () => raw(session, "/test.T/Hang", frame(Buffer.from("x"))));
  await new Promise((r) => setTimeout(r, 100));
  void s.server.close();
  await new Promise((r) => setTimeout(r, 100));
  s.server.destroy();
  const results = await Promise.all(calls.map((c) => c.result));
  console.log(`# reset codes at destroy: ${results.map((r) => r.rstCode).join(",")}`);
  assert.deepEqual(
    results.map((r) => r.rstCode),
    [8, 8, 8],
  );
  assert.ok(s.events.some((e) => e.event === "stream_reset_on_shutdown" && e.detail?.["calls"] === 3), "stream_reset_on_shutdown counted");
  assert.ok(s.events.some((e) => e.event === "goaway_sent" && e.detail?.["reason"] === "shutdown"));
});

test("issue 10 #4: after the max-age GOAWAY a connection held by an unfinished call is closed after the grace", async (t) => {
  const s = await start([method("/test.T/Hang", "unary", () => {})], { maxConnectionAgeMs: 200, maxConnectionAgeGraceMs: 300 });
  const session = connect(s.port);
  t.after(() => {
    session.destroy();
    s.server.destroy();
  });
  const t0 = Date.now();
  let goawayAt: number | undefined;
  session.once("goaway", () => (goawayAt = Date.now() - t0));
  const call = raw(session, "/test.T/Hang", frame(Buffer.from("x")));
  const closed = await Promise.race([once(session, "close").then(() => Date.now() - t0), new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  console.log(`# GOAWAY at ${goawayAt} ms, connection closed at ${closed ?? "never (3 s)"}`);
  assert.ok(goawayAt !== undefined, "GOAWAY sent");
  assert.ok(closed !== undefined, "closed after the grace");
  assert.ok(closed >= goawayAt + 250, "not before the grace");
  assert.equal((await call.result).rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.ok(s.events.some((e) => e.event === "goaway_sent" && e.detail?.["reason"] === "max_connection_age"));
  assert.ok(s.events.some((e) => e.event === "connection_age_closed"));
});

test("issue 10 #9: a process-wide budget for buffered request bytes: uploads beyond it are refused RESOURCE_EXHAUSTED", async (t) => {
  const MiB = 1024 * 1024;
  const s = await start([method("/test.T/Upload", "unary", (call) => call.respond(Buffer.from(String((call.request as Buffer).length))))], {
    maxReceiveMessageBytes: 4 * MiB,
    maxBufferedRequestBytes: 8 * MiB,
  });
  const session = connect(s.port);
  t.after(() => {
    session.destroy();
    s.server.destroy();
  });
  // 8 unfinished uploads of 3 MiB (announcing 4 MiB each): 24 MiB if nothing bounded them.
  const uploads = Array.from({ length: 8 }, () => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(4 * MiB, 1);
    return raw(session, "/test.T/Upload", Buffer.concat([head, Buffer.alloc(3 * MiB - 5)]), {}, { end: false });
  });
  // Refusals are trailers-only answers while the client is still sending: count the response headers.
  const statuses = uploads.map((u) => new Promise<string | undefined>((resolve) => u.stream.once("response", (h) => resolve(h["grpc-status"] as string | undefined))));
  await new Promise((r) => setTimeout(r, 1500));
  const answered = await Promise.all(statuses.map((st) => Promise.race([st, Promise.resolve(undefined)])));
  const refused = answered.filter((st) => st === String(Status.RESOURCE_EXHAUSTED)).length;
  const held = s.server.bufferedRequestBytes;
  console.log(`# 8 × 3 MiB unfinished uploads, budget 8 MiB: ${refused} refused, ${held === undefined ? "?" : (held / MiB).toFixed(1)} MiB held`);
  // At most two 3 MiB uploads fit in 8 MiB: the other six are refused as their data arrives (the last ones may
  // not have sent a byte yet).
  assert.ok(refused >= 5, `${refused} refused`);
  assert.ok(held <= 8 * MiB);
  assert.ok(s.events.some((e) => e.event === "request_budget_exceeded"));
  for (const u of uploads) u.stream.close(http2.constants.NGHTTP2_CANCEL);
  await until(() => s.server.bufferedRequestBytes === 0, 2000, "budget released when the uploads are cancelled");
  const after = await raw(session, "/test.T/Upload", frame(Buffer.alloc(4 * MiB))).result;
  assert.equal(after.status, "0");
  assert.equal(after.data.subarray(5).toString(), String(4 * MiB));
});

test("the request budget never refuses one request the receive limit allows (compressed, at the limit)", async (t) => {
  const MiB = 1024 * 1024;
  const s = await start([method("/test.T/Upload", "unary", (call) => call.respond(Buffer.from(String((call.request as Buffer).length))))], {
    maxReceiveMessageBytes: 4 * MiB,
    maxBufferedRequestBytes: 4 * MiB,
  });
  const session = connect(s.port);
  t.after(() => {
    session.destroy();
    s.server.destroy();
  });
  const gzipped = zlib.gzipSync(Buffer.alloc(4 * MiB));
  const answer = await raw(session, "/test.T/Upload", frame(gzipped, true), { "grpc-encoding": "gzip" }).result;
  assert.equal(answer.status, "0", answer.message);
  assert.equal(answer.data.subarray(5).toString(), String(4 * MiB));
});

test("issue 10 #10: max connection idle: GOAWAY once a connection has had no call for the idle time", async (t) => {
  const s = await start([method("/test.T/Slow", "unary", (call) => setTimeout(() => call.respond(Buffer.from("late")), 700))], { maxConnectionIdleMs: 300 });
  const idle = connect(s.port);
  const busy = connect(s.port);
  t.after(() => {
    idle.destroy();
    busy.destroy();
    s.server.destroy();
  });
  const t0 = Date.now();
  let idleGoaway: number | undefined;
  let busyGoaway: number | undefined;
  idle.once("goaway", () => (idleGoaway = Date.now() - t0));
  busy.once("goaway", () => (busyGoaway = Date.now() - t0));
  await raw(idle, "/test.T/Ping", frame(Buffer.from("x"))).result;
  const slow = await raw(busy, "/test.T/Slow", frame(Buffer.from("x"))).result;
  assert.equal(slow.status, "0", "a call in flight keeps its connection");
  await until(() => busyGoaway !== undefined, 2000, "the busy connection goes idle after its call");
  console.log(`# idle connection GOAWAY at ${idleGoaway} ms, busy one at ${busyGoaway} ms`);
  assert.ok(idleGoaway !== undefined && idleGoaway >= 250 && idleGoaway < 3000, `idle GOAWAY at ${idleGoaway} ms`);
  assert.ok(busyGoaway! >= 700 + 250);
  assert.ok(s.events.some((e) => e.event === "connection_idle_closed"));
});

test("issue 10 #10: a connection that does not complete the HTTP/2 preface is closed after the handshake timeout", async (t) => {
  const s = await start([], { handshakeTimeoutMs: 300 });
  t.after(() => s.server.destroy());
  const silent = await rawSocket(s.port);
  const magicOnly = await rawSocket(s.port);
  magicOnly.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const complete = await rawSocket(s.port);
  complete.write(PREFACE);
  const [a, b, c] = await Promise.all([closedWithin(silent, 2000), closedWithin(magicOnly, 2000), closedWithin(complete, 800)]);
  console.log(`# silent closed after ${a} ms, preface without SETTINGS after ${b} ms, complete preface: ${c ?? "open"}`);
  assert.ok(a !== undefined && b !== undefined, "slowloris connections closed");
  assert.equal(c, undefined, "a connection that completed its preface stays");
  assert.equal(s.events.filter((e) => e.event === "handshake_timeout").length, 2);
  complete.destroy();
});

test("issue 10 #10: after a protocol-error GOAWAY the socket is closed shortly (keepalive PING unanswered)", async (t) => {
  const s = await start([], { keepaliveTimeMs: 200, keepaliveTimeoutMs: 300 });
  t.after(() => s.server.destroy());
  const socket = await rawSocket(s.port);
  socket.write(PREFACE);
  socket.write(h2frame(4, 1, 0)); // SETTINGS ack
  await new Promise((r) => setTimeout(r, 50));
  socket.write(h2frame(0, 0, 0, Buffer.from("x"))); // DATA on stream 0: connection PROTOCOL_ERROR
  const healthy = connect(s.port);
  t.after(() => healthy.destroy());
  const closed = await closedWithin(socket, 3000);
  console.log(`# socket closed ${closed ?? "never (3 s)"} ms after the protocol error`);
  assert.ok(closed !== undefined, "socket closed");
  // A client that answers PINGs (every HTTP/2 client does) keeps its connection.
  assert.equal((await raw(healthy, "/test.T/Ping", frame(Buffer.from("x"))).result).status, "0");
  assert.ok(!healthy.closed && !healthy.destroyed);
});

test("issue 10 #5: transport events: GOAWAY received, session errors, keepalive closes", async (t) => {
  const s = await start([], { keepaliveTimeMs: 0 });
  t.after(() => s.server.destroy());
  const session = connect(s.port);
  await raw(session, "/test.T/Ping", frame(Buffer.from("x"))).result;
  session.goaway(0);
  const garbage = await rawSocket(s.port);
  garbage.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + "x".repeat(100));
  await until(() => s.events.some((e) => e.event === "goaway_received"), 2000, "goaway_received");
  await closedWithin(garbage, 2000);
  console.log(`# events: ${s.events.map((e) => e.event).join(",")}`);
  assert.ok(s.events.some((e) => e.event === "session_error" || e.event === "socket_error"), "a broken connection is an event");
  session.destroy();
});

test("TLS: grpc-js calls over TLS; no TLS handshake, or TLS without the HTTP/2 preface, is closed after the handshake timeout", async (t) => {
  const material = selfSignedCertificate(t);
  if (!material) return;
  const { cert, key } = material;
  const s = await start([], { tls: { cert, key: key }, handshakeTimeoutMs: 300 });
  const client = new grpc.Client(`localhost:${s.port}`, grpc.credentials.createSsl(cert));
  t.after(() => {
    client.close();
    s.server.destroy();
  });
  const out = await unary(client, "/test.T/Ping", Buffer.from("x"));
  assert.deepEqual(out.value, Buffer.from("pong"));
  const noTls = await rawSocket(s.port);
  const tlsOnly = tls.connect({ port: s.port, host: "127.0.0.1", ca: cert, servername: "localhost", ALPNProtocols: ["h2"] });
  tlsOnly.on("error", () => {});
  tlsOnly.on("data", () => {}); // reading, so it sees the server's close
  await once(tlsOnly, "secureConnect");
  const [a, b] = await Promise.all([closedWithin(noTls, 2000), closedWithin(tlsOnly as unknown as net.Socket, 2000)]);
  console.log(`# TLS: no handshake closed after ${a} ms, TLS without preface after ${b} ms`);
  assert.ok(a !== undefined && b !== undefined);
  assert.equal(s.events.filter((e) => e.event === "handshake_timeout").length, 2);
});

// ---------------------------------------------------------------- floods (the conformance suite covers them across clients)

test("rapid reset, PING and SETTINGS floods: the server survives and a probe on another connection keeps answering", async (t) => {
  const s = await start([method("/test.T/Hang", "unary", () => {})]);
  t.after(() => s.server.destroy());
  const p = probe(s.port);

  // Rapid reset (CVE-2023-44487): HEADERS then RST_STREAM, 20,000 times on one connection.
  const attacker = connect(s.port);
  for (let i = 0; i < 20_000 && !attacker.destroyed; i++) {
    try {
      const stream = attacker.request({ ":method": "POST", ":path": "/test.T/Hang", "content-type": "application/grpc" });
      stream.on("error", () => {});
      stream.close(http2.constants.NGHTTP2_CANCEL);
    } catch {
      break; // the server closed the connection
    }
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  // PING and SETTINGS floods from sockets that never read the acks.
  const flood = async (frameBytes: Buffer) => {
    const socket = await rawSocket(s.port);
    socket.pause();
    socket.write(PREFACE);
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => frameBytes));
    for (let i = 0; i < 100 && !socket.destroyed; i++) {
      socket.write(burst);
      await new Promise((r) => setImmediate(r));
    }
    return closedWithin(socket, 2000);
  };
  const pingClosed = await flood(h2frame(6, 0, 0, Buffer.alloc(8)));
  const settingsClosed = await flood(h2frame(4, 0, 0));
  await new Promise((r) => setTimeout(r, 200));
  const result = await p.stop();
  attacker.destroy();
  console.log(`# floods: probe worst ${result.worstMs} ms, ${result.answered} answered, ${result.failed} failed; PING flooder closed: ${pingClosed !== undefined}, SETTINGS flooder closed: ${settingsClosed !== undefined}; leftover calls ${s.server.bufferedRequestBytes} B buffered`);
  assert.equal(result.failed, 0);
  assert.ok(result.answered > 5);
  assert.ok(result.worstMs < 3000, `probe stalled ${result.worstMs} ms`);
  // After the attacks, a fresh client is served normally.
  const fresh = connect(s.port);
  t.after(() => fresh.destroy());
  assert.equal((await raw(fresh, "/test.T/Ping", frame(Buffer.from("x"))).result).status, "0");
});
