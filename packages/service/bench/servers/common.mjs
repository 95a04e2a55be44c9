import { create, toBinary } from "@bufbuild/protobuf";
import { GetTaskRequestSchema, GetTaskResponseSchema } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";

export const getTaskRequest = create(GetTaskRequestSchema, {
  taskCategory: { name: "echo", version: 0 },
  resourceMeta: new TextEncoder().encode(JSON.stringify({ jobId: "abc-123", createdAt: 1700000000 })),
  outputPrefix: "s3://bucket/shard/run/action/1",
});
export const getTaskResponse = create(GetTaskResponseSchema, {
  resource: { phase: 3, message: "done" },
});
export const getTaskResponseBytes = toBinary(GetTaskResponseSchema, getTaskResponse);
