// --max-connection-age: a connection gets GOAWAY after its age (calls in flight finish), so a client such as the
// backend's grpc-go reconnects and re-resolves its dns:/// target, reaching replicas added since.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { TestConnector } from "./testing/fixture-connectors.js";
import { serveForTest } from "./testing/index.js";

/** One unary GetTask on a raw HTTP/2 session (so the test sees the session's GOAWAY); resolves status and reply. */
function getTask(session: http2.ClientHttp2Session, ms: number): Promise<{ status: string | undefined; message: string | undefined }> {
  const body = toBinary(
    GetTaskRequestSchema,
    create(GetTaskRequestSchema, { taskCategory: { name: "test", version: 0 }, resourceMeta: new TextEncoder().encode(JSON.stringify({ id: "aged", ms })) }),
  );
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  const stream = session.request({ ":method": "POST", ":path": "/flyteidl2.connector.AsyncConnectorService/GetTask", "content-type": "application/grpc", te: "trailers" });
  stream.end(frame);
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    stream.on("error", reject);
    // A call cut without trailers (its connection destroyed) is a failure, not a hang.
    stream.on("close", () => reject(new Error(`stream closed without trailers (code ${stream.rstCode})`)));
    stream.on("trailers", (trailers) => {
      const data = Buffer.concat(chunks);
      const reply = data.length > 5 ? fromBinary(GetTaskResponseSchema, data.subarray(5)) : undefined;
      resolve({ status: trailers["grpc-status"] as string | undefined, message: reply?.resource?.message });
    });
  });
}

test("max connection age: GOAWAY after the age, the call in flight completes, a new connection serves the next call", async () => {
  const service = await serveForTest([new TestConnector()], { maxConnectionAgeMs: 300 });
  try {
    const session = http2.connect(`http://127.0.0.1:${service.handle.port}`);
    const t0 = Date.now();
    let goawayAt: number | undefined;
    session.once("goaway", () => (goawayAt = Date.now()));
    // Still running when the age (270–330 ms) passes; the order of events, not a time bound, is asserted.
    const inFlight = getTask(session, 800);
    assert.deepEqual(await inFlight, { status: "0", message: "done aged" });
    assert.ok(goawayAt !== undefined, "GOAWAY before the call in flight answered");
    assert.ok(goawayAt - t0 >= 250, `GOAWAY after ${goawayAt - t0} ms, before the age`);
    await once(session, "close");

    const next = http2.connect(`http://127.0.0.1:${service.handle.port}`);
    assert.deepEqual(await getTask(next, 0), { status: "0", message: "done aged" });
    next.close();
  } finally {
    await service.close();
  }
});

test("without max connection age a connection stays open", async () => {
  const service = await serveForTest([new TestConnector()]);
  try {
    const session = http2.connect(`http://127.0.0.1:${service.handle.port}`);
    let wentAway = false;
    session.on("goaway", () => (wentAway = true));
    await getTask(session, 0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(wentAway, false);
    session.close();
  } finally {
    await service.close();
  }
});

test("max connection age: a client calling without pause across several GOAWAYs loses no call", async () => {
  // A real grpc-js channel, as the backend's grpc-go one: after GOAWAY it reconnects; calls racing the GOAWAY
  // (above its last stream id) were never processed and are retried transparently, so none may fail.
  const service = await serveForTest([new TestConnector()], { maxConnectionAgeMs: 100 });
  try {
    const meta = (i: number) => new TextEncoder().encode(JSON.stringify({ id: `c${i}`, ms: 5 }));
    const category = { name: "test", version: 0 };
    let answered = 0;
    const deadline = Date.now() + 600; // several connection ages (90–110 ms each)
    await Promise.all(
      Array.from({ length: 4 }, async (_, lane) => {
        for (let i = lane; Date.now() < deadline; i += 4) {
          const reply = await service.client.unary(AsyncConnectorService.method.getTask, { taskCategory: category, resourceMeta: meta(i) });
          assert.equal(reply.resource?.message, `done c${i}`);
          answered++;
        }
      }),
    );
    assert.ok(answered > 20, `${answered} calls answered`);
  } finally {
    await service.close();
  }
});
