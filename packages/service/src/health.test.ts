import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { HealthService } from "./health.js";
import { createTransport, DEFAULT_TRANSPORT } from "./transport/index.js";
import { testTransport } from "./testing/transport.js";

const WATCH = "/grpc.health.v1.Health/Watch";

/** A Watch request for `service` as a gRPC frame (HealthCheckRequest { string service = 1; }). */
function watchRequest(service: string): Buffer {
  const name = Buffer.from(service);
  const message = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  return Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
}

/** Opens a Watch stream; `status` resolves with its final grpc-status once it closes. */
function watch(session: http2.ClientHttp2Session, service: string, headers: Record<string, string> = {}) {
  const req = session.request({ ":method": "POST", ":path": WATCH, "content-type": "application/grpc", te: "trailers", ...headers });
  let status: string | undefined;
  const first = new Promise<void>((resolve) => req.once("data", () => resolve()));
  req.on("response", (h) => (status = (h["grpc-status"] as string | undefined) ?? status));
  req.on("trailers", (t) => (status = t["grpc-status"] as string));
  req.on("error", () => {});
  req.resume();
  const closed = new Promise<string | undefined>((resolve) => req.on("close", () => resolve(status)));
  req.end(watchRequest(service));
  return { req, first, closed };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

test("health Watch forgets a stream however it finishes, and service names nobody watches", async () => {
  const errors: unknown[] = [];
  const server = createTransport(testTransport() ?? DEFAULT_TRANSPORT, { maxReceiveMessageBytes: 1024, onHandlerError: (error) => errors.push(error) });
  const health = new HealthService({ "": "SERVING" });
  health.addTo(server);
  const port = await server.listen(0, "127.0.0.1");
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  try {
    // Client cancel, for many names a client made up.
    const cancelled = Array.from({ length: 20 }, (_, i) => watch(session, `made.up.Service${i}`));
    await Promise.all(cancelled.map((w) => w.first));
    assert.equal(health.watching().size, 20);
    for (const w of cancelled) w.req.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => health.watching().size === 0, "cancelled watches (and their names) forgotten");

    // Deadline.
    const timed = watch(session, "", { "grpc-timeout": "100m" });
    await timed.first;
    assert.equal(await timed.closed, "4");
    await until(() => health.watching().size === 0, "a watch past its deadline is forgotten");

    // A failed write (the transport answers INTERNAL): the call ends through fail(), its signal never fires.
    const broken = watch(session, "a");
    await broken.first;
    health.setStatus("a", "BOGUS" as never);
    assert.equal(await broken.closed, "13");
    assert.equal(errors.length, 1, "the encoding error reached onHandlerError");
    await until(() => health.watching().size === 0, "a watch whose write failed is forgotten");

    // Two watchers of one name: the name stays while one is left; endWatches ends the rest.
    const one = watch(session, "");
    const two = watch(session, "");
    await Promise.all([one.first, two.first]);
    one.req.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => health.watching().get("") === 1, "one watcher left");
    health.endWatches();
    assert.equal(await two.closed, "0");
    assert.equal(health.watching().size, 0);
  } finally {
    session.destroy();
    server.destroy();
  }
});
