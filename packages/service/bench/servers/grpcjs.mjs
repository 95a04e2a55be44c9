// @grpc/grpc-js server with a trivial GetTask handler (protobuf-es codec).
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { getTaskResponse } from "./common.mjs";

const def = {
  getTask: {
    path: "/flyteidl2.connector.AsyncConnectorService/GetTask",
    requestStream: false,
    responseStream: false,
    requestDeserialize: (b) => fromBinary(GetTaskRequestSchema, b),
    requestSerialize: (m) => Buffer.from(toBinary(GetTaskRequestSchema, m)),
    responseDeserialize: (b) => fromBinary(GetTaskResponseSchema, b),
    responseSerialize: (m) => Buffer.from(toBinary(GetTaskResponseSchema, m)),
  },
};
const server = new grpc.Server();
server.addService(def, {
  getTask: async (call, cb) => {
    const _ = call.request.taskCategory?.name;
    cb(null, getTaskResponse);
  },
});
server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.send({ port });
});
