// The service's own gRPC transport (dist/transport) with a trivial GetTask handler (protobuf-es codec).
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { GrpcServer } from "../../dist/transport/server.js";
import { getTaskResponse } from "./common.mjs";

const server = new GrpcServer({ maxReceiveMessageBytes: 4 * 1024 * 1024 });
server.add({
  path: "/flyteidl2.connector.AsyncConnectorService/GetTask",
  kind: "unary",
  decode: (bytes) => fromBinary(GetTaskRequestSchema, bytes),
  encode: (message) => toBinary(GetTaskResponseSchema, message),
  handler: (call) => {
    const _ = call.request.taskCategory?.name;
    call.respond(getTaskResponse);
  },
});
const port = await server.listen(Number(process.env.PORT ?? 0), "127.0.0.1");
process.send({ port });
