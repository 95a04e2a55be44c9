// @connectrpc/connect-node adapter over node:http2 (gRPC protocol only) with a trivial GetTask handler.
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { getTaskResponse } from "./common.mjs";

const handler = connectNodeAdapter({
  grpc: true, grpcWeb: false, connect: false,
  routes(router) {
    router.service(AsyncConnectorService, {
      async getTask(req) { const _ = req.taskCategory?.name; return getTaskResponse; },
    });
  },
});
const server = http2.createServer(handler);
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.send({ port: server.address().port });
});
