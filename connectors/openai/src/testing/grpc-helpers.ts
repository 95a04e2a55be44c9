// Helpers of this package's tests: CreateTask/GetTask/DeleteTask requests for a task, and a record of everything the
// service answered (to check that no secret ever appears in it).
import { toJson } from "@bufbuild/protobuf";
import { ResourceSchema, type Resource } from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { decodeOutputs, encodeInputs, type ConnectorTask, type TypeSpecs } from "flyte-connectors";
import type { TestClient } from "@flyte-connectors/service/testing";
export { rejectsWith } from "@flyte-connectors/service/testing";

export const A = AsyncConnectorService.method;

/** Everything the service answered: replies (JSON), resource metas (text) and error details and metadata. */
export class Transcript {
  readonly entries: string[] = [];

  reply(value: unknown): void {
    this.entries.push(typeof value === "string" ? value : JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
  }

  error(error: unknown): void {
    const e = error as { code?: number; details?: string; message?: string; metadata?: { getMap(): unknown } };
    this.entries.push(`${e.code} ${e.details} ${e.message} ${JSON.stringify(e.metadata?.getMap() ?? {})}`);
  }

  text(): string {
    return this.entries.join("\n");
  }
}

export interface Attempt {
  run?: string;
  node?: string;
  attempt?: number;
}

/** A CreateTask request as the backend builds it for `task` with `values`, `secrets` in the connection. */
export async function createTaskRequest<I extends TypeSpecs, O extends TypeSpecs>(
  task: ConnectorTask<I, O>,
  values: Record<string, unknown>,
  secrets: Record<string, string>,
  { run = "r1", node = "a0", attempt = 0 }: Attempt = {},
) {
  return {
    template: task.toTaskTemplate(),
    inputs: await encodeInputs(values, task.inputs),
    outputPrefix: `s3://bucket/shard/${run}/${node}/${attempt + 1}`,
    taskExecutionMetadata: {
      taskExecutionId: {
        nodeExecutionId: { nodeId: node, executionId: { project: "p", domain: "d", name: run } },
        retryAttempt: attempt,
      },
    },
    connection: { secrets },
  };
}

/** A client wrapper that records every reply and error in `transcript`. */
export function recording(client: TestClient, transcript: Transcript) {
  const wrap = async <T>(promise: Promise<T>): Promise<T> => {
    try {
      const reply = await promise;
      transcript.reply(reply instanceof Object && "resource" in reply && reply.resource ? toJson(ResourceSchema, reply.resource as Resource) : reply);
      if (reply instanceof Object && "resourceMeta" in reply) transcript.reply(new TextDecoder().decode(reply.resourceMeta as Uint8Array));
      return reply;
    } catch (error) {
      transcript.error(error);
      throw error;
    }
  };
  return {
    create: async (request: Awaited<ReturnType<typeof createTaskRequest>>) => wrap(client.unary(A.createTask, request)),
    get: async (taskType: string, resourceMeta: Uint8Array, secrets: Record<string, string>) =>
      wrap(client.unary(A.getTask, { taskCategory: { name: taskType, version: 0 }, resourceMeta, outputPrefix: "s3://bucket/out", connection: { secrets } })),
    delete: async (taskType: string, resourceMeta: Uint8Array, secrets: Record<string, string>) =>
      wrap(client.unary(A.deleteTask, { taskCategory: { name: taskType, version: 0 }, resourceMeta, connection: { secrets } })),
  };
}

/** Outputs of a GetTask resource, decoded. */
export function outputsOf(resource: Resource | undefined): Promise<Record<string, unknown>> {
  return decodeOutputs(resource?.outputs);
}

