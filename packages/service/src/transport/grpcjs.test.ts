// The grpc-js transport adapter, driven by real clients: grpc-js's own client, and raw node:http2 where a test
// needs what a well-behaved client never does (a client that stops reading, a huge grpc-timeout, no message).
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { GrpcJsServer } from "./grpcjs.js";
import { createTransport } from "./index.js";
import { Status } from "./status.js";
import type { MethodDefinition, ServerCall, TransportEvent, TransportOptions } from "./types.js";
import { selfSignedCertificate } from "../testing/tls.js";

/** Messages are UTF-8 strings; a request starting with byte 0xFF does not decode; the answer "unencodable" does not encode. */
const codec = {
  decode(bytes: Uint8Array): unknown {
    if (bytes[0] === 0xff) throw new Error("bad leading byte 0xff");
    return Buffer.from(bytes).toString("utf8");
  },
  encode(message: unknown): Uint8Array {
    if (message === "unencodable") throw new Error("cannot encode the answer");
    return Buffer.from(String(message), "utf8");
  },
};

const toBuffer = (value: Buffer) => value;
const asText = (value: Buffer) => value.toString("utf8");
const text = (value: string) => Buffer.from(value, "utf8");

interface Fixture {
  server: GrpcJsServer;
  port: number;
  client: grpc.Client;
  events: TransportEvent[];
  handlerErrors: unknown[];
  close(): Promise<void>;
}

async function serve(methods: readonly Omit<MethodDefinition, "decode" | "encode">[], options: Partial<TransportOptions> = {}): Promise<Fixture> {
  const events: TransportEvent[] = [];
  const handlerErrors: unknown[] = [];
  const server = new GrpcJsServer({
    maxReceiveMessageBytes: 1024 * 1024,
    onEvent: (event) => events.push(event),
    onHandlerError: (error) => handlerErrors.push(error),
    ...options,
  });
  for (const method of methods) server.add({ ...codec, ...method });
  const port = await server.listen(0, "127.0.0.1");
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    server,
    port,
    client,
    events,
    handlerErrors,
    close: async () => {
      client.close();
      server.destroy();
    },
  };
}

function unary(client: grpc.Client, method: string, request: Buffer, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}) {
  let headers: grpc.Metadata | undefined;
  let trailers: grpc.Metadata | undefined;
  let call!: grpc.ClientUnaryCall;
  const result = new Promise<string>((resolve, reject) => {
    call = client.makeUnaryRequest(method, toBuffer, asText, request, metadata, options, (error, value) => (error ? reject(error) : resolve(value!)));
    call.on("metadata", (m) => (headers = m));
    call.on("status", (s) => (trailers = s.metadata));
  });
  return { call, result, headers: () => headers, trailers: () => trailers };
}

async function rejected(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  assert.fail("the call succeeded");
}

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), what);
}

/** A raw gRPC frame. */
function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

test("grpc-js transport: unary answer, metadata both ways (-bin as Buffers), headers and trailers", async () => {
  const seen: { header?: string | undefined; bin?: readonly unknown[]; many?: readonly unknown[] } = {};
  const f = await serve([
    {
      path: "/t.S/Echo",
      kind: "unary",
      handler: (call) => {
        seen.header = call.header("x-request-id");
        seen.bin = call.metadata("x-blob-bin");
        seen.many = call.metadata("x-many");
        assert.equal(call.header("x-blob-bin"), undefined, "a -bin key has no string value");
        call.sendHeaders({ "x-answer-header": "h1", "x-answer-bin": Buffer.from([0, 1, 2]) });
        call.respond(`echo ${String(call.request)}`, { "x-trailer": ["t1", "t2"], "x-trailer-bin": Buffer.from([255]) });
      },
    },
  ]);
  try {
    const metadata = new grpc.Metadata();
    metadata.set("x-request-id", "req-1");
    metadata.set("x-blob-bin", Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    metadata.add("x-many", "a");
    metadata.add("x-many", "b");
    const call = unary(f.client, "/t.S/Echo", text("hi"), metadata);
    assert.equal(await call.result, "echo hi");
    assert.equal(seen.header, "req-1");
    assert.deepEqual(seen.bin, [Buffer.from([0xde, 0xad, 0xbe, 0xef])]);
    // Repeated values travel as one comma-joined header (HTTP/2 and gRPC treat them alike).
    assert.deepEqual(seen.many?.join(", "), "a, b");
    assert.deepEqual(call.headers()?.get("x-answer-header"), ["h1"]);
    assert.deepEqual(call.headers()?.get("x-answer-bin"), [Buffer.from([0, 1, 2])]);
    assert.deepEqual(call.trailers()?.get("x-trailer").join(", "), "t1, t2");
    assert.deepEqual(call.trailers()?.get("x-trailer-bin"), [Buffer.from([255])]);
  } finally {
    await f.close();
  }
});

test("grpc-js transport: fail sends code, percent-encoded message, trailers and grpc-status-details-bin", async () => {
  const details = Buffer.from([8, 5, 18, 3, 0x6e, 0x6f, 0x21]);
  const f = await serve([
    { path: "/t.S/Fail", kind: "unary", handler: (call) => call.fail(Status.NOT_FOUND, "no such job: 100% ünïcode \ud800", { details, trailers: { "x-why": "gone" } }) },
    {
      path: "/t.S/FailLate",
      kind: "server_streaming",
      handler: (call) => {
        call.write("one");
        call.fail(Status.ABORTED, "stopped after one", { details });
      },
    },
  ]);
  try {
    const error = await rejected(unary(f.client, "/t.S/Fail", text("x")).result);
    assert.equal(error.code, grpc.status.NOT_FOUND);
    assert.equal(error.details, "no such job: 100% ünïcode \ufffd");
    assert.deepEqual(error.metadata.get("grpc-status-details-bin"), [details]);
    assert.deepEqual(error.metadata.get("x-why"), ["gone"]);

    const stream = f.client.makeServerStreamRequest("/t.S/FailLate", toBuffer, asText, text("x"));
    const messages: string[] = [];
    stream.on("data", (m: string) => messages.push(m));
    const late = await new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    assert.deepEqual(messages, ["one"]);
    assert.equal(late.code, grpc.status.ABORTED);
    assert.deepEqual(late.metadata.get("grpc-status-details-bin"), [details]);
  } finally {
    await f.close();
  }
});

test("grpc-js transport: a request that does not decode is INTERNAL naming the problem; the handler never runs", async () => {
  let ran = false;
  const f = await serve([{ path: "/t.S/Echo", kind: "unary", handler: () => (ran = true) }]);
  try {
    const error = await rejected(unary(f.client, "/t.S/Echo", Buffer.from([0xff, 1])).result);
    assert.equal(error.code, grpc.status.INTERNAL);
    assert.match(error.details, /^Failed to parse the request message: bad leading byte 0xff/);
    assert.equal(ran, false);
  } finally {
    await f.close();
  }
});

test("grpc-js transport: an answer that does not encode fails the call with INTERNAL and respond/write throw", async () => {
  const thrown: unknown[] = [];
  const attempt = (call: ServerCall, send: () => unknown) => {
    try {
      send();
    } catch (error) {
      thrown.push(error);
    }
    assert.equal(call.done, true);
  };
  const f = await serve([
    { path: "/t.S/Unary", kind: "unary", handler: (call) => attempt(call, () => call.respond("unencodable")) },
    { path: "/t.S/Stream", kind: "server_streaming", handler: (call) => attempt(call, () => call.write("unencodable")) },
  ]);
  try {
    const error = await rejected(unary(f.client, "/t.S/Unary", text("x")).result);
    assert.equal(error.code, grpc.status.INTERNAL);
    const stream = f.client.makeServerStreamRequest("/t.S/Stream", toBuffer, asText, text("x"));
    stream.on("data", () => {});
    const streamError = await new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    assert.equal(streamError.code, grpc.status.INTERNAL);
    assert.equal(thrown.length, 2);
    assert.equal(f.handlerErrors.length, 2, "the encoding errors reached onHandlerError");
  } finally {
    await f.close();
  }
});

test("grpc-js transport: a handler that throws answers INTERNAL and is reported", async () => {
  const f = await serve([
    {
      path: "/t.S/Throw",
      kind: "unary",
      handler: () => {
        throw new Error("handler bug");
      },
    },
  ]);
  try {
    const error = await rejected(unary(f.client, "/t.S/Throw", text("x")).result);
    assert.equal(error.code, grpc.status.INTERNAL);
    assert.equal((f.handlerErrors[0] as Error).message, "handler bug");
  } finally {
    await f.close();
  }
});

test("grpc-js transport: deadline aborts the signal with TimeoutError and answers DEADLINE_EXCEEDED; cancel aborts with AbortError", async () => {
  const reasons: unknown[] = [];
  const f = await serve([{ path: "/t.S/Wait", kind: "unary", handler: (call) => call.signal.addEventListener("abort", () => reasons.push(call.signal.reason)) }]);
  try {
    const error = await rejected(unary(f.client, "/t.S/Wait", text("x"), new grpc.Metadata(), { deadline: Date.now() + 200 }).result);
    assert.equal(error.code, grpc.status.DEADLINE_EXCEEDED);
    await until(() => reasons.length === 1, "the handler's signal aborted at the deadline");
    assert.equal((reasons[0] as DOMException).name, "TimeoutError");

    const call = unary(f.client, "/t.S/Wait", text("x"));
    call.result.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    call.call.cancel();
    await until(() => reasons.length === 2, "the handler's signal aborted on cancel");
    assert.equal((reasons[1] as DOMException).name, "AbortError");
  } finally {
    await f.close();
  }
});

test("grpc-js transport: a grpc-timeout longer than a Node timer holds is no deadline (grpc-js alone answers it at once)", async () => {
  const f = await serve([{ path: "/t.S/Later", kind: "unary", handler: (call) => setTimeout(() => call.respond("late but fine"), 200) }]);
  const session = http2.connect(`http://127.0.0.1:${f.port}`);
  try {
    // grpc-go sends a context without deadline far in the future like this (30 days).
    const stream = session.request({ ":method": "POST", ":path": "/t.S/Later", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "2592000S" });
    stream.end(frame(text("x")));
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => {
      stream.once("response", (headers) => headers["grpc-status"] !== undefined && resolve(headers)); // trailers-only
      stream.once("trailers", (headers) => resolve(headers));
    });
    assert.equal(trailers["grpc-status"], "0", String(trailers["grpc-message"]));
    assert.equal(Buffer.concat(chunks).subarray(5).toString(), "late but fine");
  } finally {
    session.destroy();
    await f.close();
  }
});

test("grpc-js transport: an answer a client does not read is released (stream reset) soon after the deadline", async () => {
  const big = "x".repeat(4 * 1024 * 1024);
  const f = await serve([{ path: "/t.S/Big", kind: "unary", handler: (call) => call.respond(big) }]);
  // A client whose windows stay at 64 KiB and which never reads: the 4 MiB answer cannot leave.
  const session = http2.connect(`http://127.0.0.1:${f.port}`, { settings: { initialWindowSize: 65_535 } });
  try {
    const stream = session.request({ ":method": "POST", ":path": "/t.S/Big", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "300m" });
    stream.end(frame(text("x")));
    stream.pause();
    const t0 = Date.now();
    const code = await new Promise<number | string>((resolve) => {
      stream.once("close", () => resolve(stream.rstCode ?? -1));
      setTimeout(() => resolve("still open 10 s after the deadline"), 10_000).unref();
    });
    assert.equal(code, http2.constants.NGHTTP2_CANCEL);
    assert.ok(Date.now() - t0 < 10_000, `stream released after ${Date.now() - t0} ms`);
  } finally {
    session.destroy();
    await f.close();
  }
});

test("grpc-js transport: no request message, or two, on a unary call is UNIMPLEMENTED", async () => {
  const f = await serve([{ path: "/t.S/Echo", kind: "unary", handler: (call) => call.respond(call.request) }]);
  const session = http2.connect(`http://127.0.0.1:${f.port}`);
  try {
    for (const body of [Buffer.alloc(0), Buffer.concat([frame(text("a")), frame(text("b"))])]) {
      const stream = session.request({ ":method": "POST", ":path": "/t.S/Echo", "content-type": "application/grpc", te: "trailers" });
      stream.end(body);
      stream.resume();
      const status = await new Promise<string | undefined>((resolve) => {
        stream.once("response", (headers) => headers["grpc-status"] !== undefined && resolve(String(headers["grpc-status"])));
        stream.once("trailers", (trailers) => resolve(String(trailers["grpc-status"])));
      });
      assert.equal(status, String(Status.UNIMPLEMENTED));
    }
  } finally {
    session.destroy();
    await f.close();
  }
});

test("grpc-js transport: a request larger than maxReceiveMessageBytes is RESOURCE_EXHAUSTED", async () => {
  const f = await serve([{ path: "/t.S/Echo", kind: "unary", handler: (call) => call.respond("ok") }], { maxReceiveMessageBytes: 1000 });
  try {
    const error = await rejected(unary(f.client, "/t.S/Echo", Buffer.alloc(1001, 0x61)).result);
    assert.equal(error.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(await unary(f.client, "/t.S/Echo", Buffer.alloc(1000, 0x61)).result, "ok");
  } finally {
    await f.close();
  }
});

test("grpc-js transport: server streaming with backpressure; end with trailers; cancel aborts and releases drained()", async () => {
  const log: string[] = [];
  let cancelledCall: ServerCall | undefined;
  const f = await serve([
    {
      path: "/t.S/Pages",
      kind: "server_streaming",
      handler: (call) => {
        void (async () => {
          for (let i = 0; i < 3; i++) if (!call.write(`page ${i}`)) await call.drained();
          call.end({ "x-pages": "3" });
        })();
      },
    },
    {
      path: "/t.S/Flood",
      kind: "server_streaming",
      handler: (call) => {
        cancelledCall = call;
        void (async () => {
          const page = "y".repeat(64 * 1024);
          let writes = 0;
          while (!call.done) {
            writes++;
            if (!call.write(page)) {
              log.push(`blocked after ${writes}`);
              await call.drained();
            }
          }
          log.push(`done, ${call.signal.reason?.name}`);
        })();
      },
    },
  ]);
  try {
    const stream = f.client.makeServerStreamRequest("/t.S/Pages", toBuffer, asText, text("x"));
    const pages: string[] = [];
    let trailers: grpc.Metadata | undefined;
    stream.on("data", (page: string) => pages.push(page));
    stream.on("status", (status: grpc.StatusObject) => (trailers = status.metadata));
    await new Promise((resolve) => stream.on("end", resolve));
    assert.deepEqual(pages, ["page 0", "page 1", "page 2"]);
    assert.deepEqual(trailers?.get("x-pages"), ["3"]);

    // A client that does not read: the writer is told to wait (not buffering without bound), then cancel frees it.
    const flood = f.client.makeServerStreamRequest("/t.S/Flood", toBuffer, asText, text("x"));
    flood.on("error", () => {});
    flood.pause();
    await until(() => log.some((line) => line.startsWith("blocked")), "write() returned false while the client did not read");
    flood.cancel();
    await until(() => log.some((line) => line.startsWith("done")), "drained() resolved once the call was cancelled");
    assert.equal(log.at(-1), "done, AbortError");
    assert.equal(cancelledCall?.done, true);
  } finally {
    await f.close();
  }
});

test("grpc-js transport: bidi collects the requests until the half-close, or until requestsComplete says so", async () => {
  const f = await serve([
    { path: "/t.S/Collect", kind: "bidi_streaming", handler: (call) => { for (const r of call.requests) call.write(`got ${String(r)}`); call.end(); } },
    {
      path: "/t.S/Early",
      kind: "bidi_streaming",
      requestsComplete: (requests) => requests.length === 2,
      handler: (call) => {
        call.write(`early ${call.requests.join("+")} last ${String(call.request)}`);
        call.end();
      },
    },
  ]);
  try {
    const collect = f.client.makeBidiStreamRequest("/t.S/Collect", toBuffer, asText);
    const answers: string[] = [];
    collect.on("data", (m: string) => answers.push(m));
    collect.write(text("header"));
    collect.write(text("inputs"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(answers, [], "nothing answered before the half-close");
    collect.end();
    await new Promise((resolve) => collect.on("end", resolve));
    assert.deepEqual(answers, ["got header", "got inputs"]);

    // The client keeps its side open and waits for the answer (older Flyte 1 propellers).
    const early = f.client.makeBidiStreamRequest("/t.S/Early", toBuffer, asText);
    early.write(text("header"));
    early.write(text("inputs"));
    const first = await new Promise<string>((resolve) => early.once("data", resolve));
    assert.equal(first, "early header+inputs last inputs");
    early.end();
  } finally {
    await f.close();
  }
});

test("grpc-js transport: TLS with the given certificate", async (t) => {
  const material = selfSignedCertificate(t);
  if (!material) return;
  const { cert, key } = material;
  const server = createTransport("grpc-js", { maxReceiveMessageBytes: 1024, tls: { cert, key: key } });
  server.add({ ...codec, path: "/t.S/Echo", kind: "unary", handler: (call) => call.respond(`tls ${String(call.request)}`) });
  const port = await server.listen(0, "127.0.0.1");
  const client = new grpc.Client(`localhost:${port}`, grpc.credentials.createSsl(cert));
  try {
    assert.equal(await unary(client, "/t.S/Echo", text("hi")).result, "tls hi");
  } finally {
    client.close();
    server.destroy();
  }
});

test("grpc-js transport: events — GOAWAY for connection age, the age grace cuts a stalled call, idle close, GOAWAY received", async () => {
  let started = 0;
  const f = await serve(
    [
      { path: "/t.S/Quick", kind: "unary", handler: (call) => call.respond("ok") },
      { path: "/t.S/Hang", kind: "unary", handler: () => started++ },
    ],
    { maxConnectionAgeMs: 300, maxConnectionAgeGraceMs: 300 },
  );
  try {
    const session = http2.connect(`http://127.0.0.1:${f.port}`);
    session.on("error", () => {});
    const stream = session.request({ ":method": "POST", ":path": "/t.S/Hang", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    stream.end(frame(text("x")));
    const closed = new Promise<number | undefined>((resolve) => stream.once("close", () => resolve(stream.rstCode)));
    await until(() => started === 1, "the hanging call started");
    // Age (270–330 ms), then grace (300 ms): the connection is closed under the call.
    const code = await closed;
    assert.equal(code, http2.constants.NGHTTP2_CANCEL, "the cut call is reset with CANCEL (retryable)");
    await until(() => f.events.some((e) => e.event === "connection_age_closed"), "connection_age_closed counted");
    assert.deepEqual(f.events.find((e) => e.event === "goaway_sent")?.detail, { reason: "max_connection_age" });
    session.destroy();
  } finally {
    await f.close();
  }

  const idle = await serve([{ path: "/t.S/Quick", kind: "unary", handler: (call) => call.respond("ok") }], { maxConnectionIdleMs: 200 });
  try {
    const session = http2.connect(`http://127.0.0.1:${idle.port}`);
    session.on("error", () => {});
    const goaway = new Promise((resolve) => session.once("goaway", resolve));
    await goaway;
    assert.ok(idle.events.some((e) => e.event === "connection_idle_closed"));
    assert.deepEqual(idle.events.find((e) => e.event === "goaway_sent")?.detail, { reason: "idle" });

    const polite = http2.connect(`http://127.0.0.1:${idle.port}`);
    await new Promise((resolve) => polite.once("remoteSettings", resolve));
    polite.close();
    await until(() => idle.events.some((e) => e.event === "goaway_received"), "the client's GOAWAY counted");
    session.destroy();
  } finally {
    await idle.close();
  }
});

test("grpc-js transport: close drains (the call in flight completes); destroy resets open calls and counts them", async () => {
  const f = await serve([
    { path: "/t.S/Slow", kind: "unary", handler: (call) => setTimeout(() => call.respond("finished"), 300) },
    { path: "/t.S/Hang", kind: "unary", handler: () => {} },
  ]);
  const slow = unary(f.client, "/t.S/Slow", text("x"));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closed = f.server.close();
  assert.equal(await slow.result, "finished");
  await closed;
  f.client.close();

  const g = await serve([{ path: "/t.S/Hang", kind: "unary", handler: () => {} }]);
  const hang = unary(g.client, "/t.S/Hang", text("x"));
  await until(() => g.server.calls.size === 1, "the call is running");
  g.server.destroy();
  const error = await rejected(hang.result);
  assert.ok([grpc.status.UNAVAILABLE, grpc.status.CANCELLED, grpc.status.INTERNAL].includes(error.code), `client saw ${error.code}`);
  assert.equal(g.events.filter((e) => e.event === "stream_reset_on_shutdown").length, 1);
  g.client.close();
});

test("grpc-js transport: keepalive — client PINGs every 50 ms without calls are answered (no GOAWAY); the server PINGs too", async () => {
  const f = await serve([{ path: "/t.S/Echo", kind: "unary", handler: (call) => call.respond(call.request) }], { keepaliveTimeMs: 200 } as Partial<TransportOptions>);
  const session = http2.connect(`http://127.0.0.1:${f.port}`);
  let goaway = false;
  let serverPings = 0;
  session.on("goaway", () => (goaway = true));
  session.on("ping", () => serverPings++);
  try {
    await new Promise((resolve) => session.once("connect", resolve));
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(goaway, false, "no GOAWAY (too_many_pings) for a client pinging often");
    assert.ok(serverPings >= 2, `the server pinged ${serverPings} times in ~1.5 s at a 200 ms keepalive`);
    assert.equal(session.closed || session.destroyed, false);
  } finally {
    session.destroy();
    await f.close();
  }
});

test("grpc-js transport: bidi requests are bounded together (twice the receive limit) and each must decode", async () => {
  let ran = 0;
  const f = await serve([{ path: "/t.S/Collect", kind: "bidi_streaming", handler: (call) => (ran++, call.end()) }], { maxReceiveMessageBytes: 1000 });
  const outcome = (messages: Buffer[]) =>
    new Promise<grpc.StatusObject>((resolve) => {
      const call = f.client.makeBidiStreamRequest("/t.S/Collect", toBuffer, asText);
      call.on("data", () => {});
      call.on("error", () => {});
      call.on("status", resolve);
      for (const message of messages) call.write(message);
      call.end();
    });
  try {
    const big = await outcome([Buffer.alloc(900, 0x61), Buffer.alloc(900, 0x61), Buffer.alloc(900, 0x61)]);
    assert.equal(big.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(big.details, /larger than max together \(2700 vs\. 2000\)/);
    const bad = await outcome([text("header"), Buffer.from([0xff])]);
    assert.equal(bad.code, grpc.status.INTERNAL);
    assert.match(bad.details, /^Failed to parse the request message/);
    assert.equal(ran, 0, "the handler never ran");
    assert.equal((await outcome([Buffer.alloc(900, 0x61), Buffer.alloc(900, 0x61)])).code, grpc.status.OK);
    assert.equal(ran, 1);
  } finally {
    await f.close();
  }
});

test("grpc-js transport: a port in use or a host that does not resolve fails listen with the socket error's code", async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const inUse = new GrpcJsServer({ maxReceiveMessageBytes: 1024 });
    await assert.rejects(inUse.listen(port, "127.0.0.1"), (error: NodeJS.ErrnoException) => error.code === "EADDRINUSE");
    inUse.destroy();
    const noHost = new GrpcJsServer({ maxReceiveMessageBytes: 1024 });
    await assert.rejects(noHost.listen(0, "no-such-host.invalid"), (error: NodeJS.ErrnoException) => error.code === "ENOTFOUND");
    noHost.destroy();
  } finally {
    blocker.close();
  }
});

test("grpc-js transport: metadata grpc-js refuses (a bad key) fails the call with INTERNAL instead of leaving it open", async () => {
  const thrown: unknown[] = [];
  const f = await serve([
    {
      path: "/t.S/BadTrailers",
      kind: "unary",
      handler: (call) => {
        try {
          call.respond("ok", { "Bad Key!": "x" });
        } catch (error) {
          thrown.push(error);
        }
      },
    },
  ]);
  try {
    const error = await rejected(unary(f.client, "/t.S/BadTrailers", text("x")).result);
    assert.equal(error.code, grpc.status.INTERNAL);
    assert.equal(thrown.length, 1);
  } finally {
    await f.close();
  }
});

test("grpc-js transport: a connection that never sends the HTTP/2 preface is closed after the handshake timeout", async () => {
  const f = await serve([{ path: "/t.S/Echo", kind: "unary", handler: (call) => call.respond(call.request) }], { handshakeTimeoutMs: 300 } as Partial<TransportOptions>);
  try {
    const socket = net.connect(f.port, "127.0.0.1");
    socket.on("error", () => {});
    socket.resume(); // reads the server's SETTINGS, then its end
    const t0 = Date.now();
    const closed = await new Promise<string>((resolve) => {
      socket.once("close", () => resolve("closed"));
      setTimeout(() => resolve("still open after 5 s"), 5000).unref();
    });
    assert.equal(closed, "closed");
    assert.ok(Date.now() - t0 >= 250, `closed after ${Date.now() - t0} ms`);
    assert.ok(f.events.some((e) => e.event === "handshake_timeout"));
    // A real client is not affected.
    assert.equal(await unary(f.client, "/t.S/Echo", text("hi")).result, "hi");
  } finally {
    await f.close();
  }
});
