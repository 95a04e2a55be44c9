// --max-connection-age: a connection gets GOAWAY after its age (calls in flight finish), so a client such as the
// backend's grpc-go reconnects and re-resolves its dns:/// target, reaching replicas added since.
import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { once } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
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
    const goaway = once(session, "goaway");
    const t0 = Date.now();
    const inFlight = getTask(session, 800); // still running when the age (270–330 ms) passes
    await goaway;
    const age = Date.now() - t0;
    assert.ok(age >= 250 && age < 800, `GOAWAY after ${age} ms`);
    assert.deepEqual(await inFlight, { status: "0", message: "done aged" });
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
