// Bare node:http2 server answering every POST with a fixed gRPC GetTask response (the upper bound).
import http2 from "node:http2";
import { getTaskResponseBytes } from "./common.mjs";

const body = Buffer.alloc(5 + getTaskResponseBytes.length);
body.writeUInt32BE(getTaskResponseBytes.length, 1);
Buffer.from(getTaskResponseBytes).copy(body, 5);
const server = http2.createServer();
server.on("stream", (stream) => {
  stream.on("data", () => {});
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(body);
  });
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.send({ port: server.address().port });
});
