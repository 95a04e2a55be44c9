// Bare node:http2 server answering every POST with a fixed gRPC GetTask response (the upper bound).
import http2 from "node:http2";
import { getTaskResponseBytes } from "./common.mjs";
import { serveStats } from "./stats.mjs";

const body = Buffer.alloc(5 + getTaskResponseBytes.length);
body.writeUInt32BE(getTaskResponseBytes.length, 1);
Buffer.from(getTaskResponseBytes).copy(body, 5);
// Same flow-control window as the native transport (1 MiB), so a 1 MiB upload is not throttled by the 64 KiB default.
const server = http2.createServer({ settings: { initialWindowSize: 1024 * 1024 } });
server.on("stream", (stream) => {
  stream.on("error", () => {});
  stream.on("data", () => {});
  stream.on("end", () => {
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(body);
  });
});
serveStats();
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.send({ port: server.address().port });
});
