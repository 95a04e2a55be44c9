// A Flyte 1 client for tests: calls the service's flyteidl.service agent services with flyteidl v1 messages, as Flyte
// 1's propeller does, through grpc-js or (FLYTE_CONNECTOR_TEST_PROTOCOL=grpc-go) through grpc-go, propeller's own
// client stack. Connector packages use it to show that templates written by flytekit's plugins run through the
// Flyte 1 path.
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  CreateTaskRequestSchema,
  DeleteTaskRequestSchema,
  ExecuteTaskSyncRequestSchema,
  GetTaskRequestSchema,
  ListAgentsRequestSchema,
  type CreateRequestHeader,
  type CreateTaskResponse,
  type ExecuteTaskSyncResponse,
  type GetTaskResponse,
  type ListAgentsResponse,
} from "@flyte-connectors/flyteidl/flyteidl/admin/agent_pb.js";
import { LiteralMapSchema, LiteralSchema, type LiteralMap } from "@flyte-connectors/flyteidl/flyteidl/core/literals_pb.js";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl/flyteidl/core/tasks_pb.js";
import { AgentMetadataService, AsyncAgentService, SyncAgentService } from "@flyte-connectors/flyteidl/flyteidl/service/agent_pb.js";
import type { TaskTemplate as V2TaskTemplate } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { TaskTemplateSchema as V2TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import type { Literal as V2Literal } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { LiteralSchema as V2LiteralSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/literals_pb.js";
import { OutputsSchema, type Outputs } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { serviceDefinition } from "./grpc-definitions.js";
import { GoChannel, goCallOptions, goServiceError, methodPath } from "./go-client.js";
import { testProtocol, type TestProtocol } from "./protocol.js";

/** A Flyte 1 `core.LiteralMap` (outputs) as flyteidl2 `task.Outputs` (the same bytes), for the type engine's decodeOutputs. */
export function flyte2Outputs(outputs: LiteralMap | undefined): Outputs {
  return fromBinary(OutputsSchema, outputs ? toBinary(LiteralMapSchema, outputs) : new Uint8Array());
}

/** A task template as Flyte 1 sends it: a flyteidl.core one, or a flyteidl2.core one (same fields, re-encoded). */
export type Flyte1Template = MessageInitShape<typeof TaskTemplateSchema> | V2TaskTemplate;

export interface Flyte1Client {
  listAgents(): Promise<ListAgentsResponse>;
  createTask(request: { template: Flyte1Template; inputs?: Record<string, V2Literal> | LiteralMap; outputPrefix?: string; taskExecutionMetadata?: MessageInitShape<typeof CreateTaskRequestSchema>["taskExecutionMetadata"] }, options?: grpc.CallOptions): Promise<CreateTaskResponse>;
  /** GetTask as propeller sends it: the category and the deprecated task_type. */
  getTask(taskType: string, resourceMeta: Uint8Array, options?: grpc.CallOptions & { version?: number; outputPrefix?: string }): Promise<GetTaskResponse>;
  deleteTask(taskType: string, resourceMeta: Uint8Array, options?: grpc.CallOptions & { version?: number }): Promise<void>;
  /** ExecuteTaskSync: the header, then the inputs, then half-close; resolves with every answer. */
  executeTaskSync(header: { template: Flyte1Template; outputPrefix?: string }, inputs?: Record<string, V2Literal> | LiteralMap, options?: grpc.CallOptions): Promise<ExecuteTaskSyncResponse[]>;
  close(): void;
}

function v1Template(template: Flyte1Template): MessageInitShape<typeof TaskTemplateSchema> {
  const typeName = (template as { $typeName?: string }).$typeName;
  return typeName === V2TaskTemplateSchema.typeName ? fromBinary(TaskTemplateSchema, toBinary(V2TaskTemplateSchema, template as V2TaskTemplate)) : (template as MessageInitShape<typeof TaskTemplateSchema>);
}

function v1Inputs(inputs: Record<string, V2Literal> | LiteralMap | undefined): LiteralMap | undefined {
  if (!inputs) return undefined;
  if ((inputs as { $typeName?: string }).$typeName === LiteralMapSchema.typeName) return inputs as LiteralMap;
  const literals = Object.fromEntries(Object.entries(inputs as Record<string, V2Literal>).map(([name, literal]) => [name, fromBinary(LiteralSchema, toBinary(V2LiteralSchema, literal))]));
  return create(LiteralMapSchema, { literals });
}

type Callback = (error: grpc.ServiceError | null, response: unknown) => void;
type Unary = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) => grpc.ClientUnaryCall;

/**
 * A Flyte 1 client of the service at `127.0.0.1:<port>` (or `host`), plaintext h2c: grpc-go when `protocol` (default:
 * FLYTE_CONNECTOR_TEST_PROTOCOL) is `grpc-go`, else grpc-js (Flyte 1 backends have no Connect: `connect` means grpc-js).
 */
export function flyte1Client(port: number, host = "127.0.0.1", protocol: TestProtocol = testProtocol()): Flyte1Client {
  if (protocol === "grpc-go") return flyte1GoClient(port, host);
  const address = `${host}:${port}`;
  const credentials = grpc.credentials.createInsecure();
  const Async = grpc.makeGenericClientConstructor(serviceDefinition(AsyncAgentService), "AsyncAgentService");
  const Sync = grpc.makeGenericClientConstructor(serviceDefinition(SyncAgentService), "SyncAgentService");
  const Meta = grpc.makeGenericClientConstructor(serviceDefinition(AgentMetadataService), "AgentMetadataService");
  const asyncClient = new Async(address, credentials) as unknown as grpc.Client & Record<string, Unary>;
  const channelOverride = asyncClient.getChannel();
  const syncClient = new Sync(address, credentials, { channelOverride }) as unknown as grpc.Client & Record<string, (options: grpc.CallOptions) => grpc.ClientDuplexStream<unknown, unknown>>;
  const metaClient = new Meta(address, credentials, { channelOverride }) as unknown as grpc.Client & Record<string, Unary>;
  const unary = <T>(client: Record<string, Unary>, method: string, request: unknown, options: grpc.CallOptions = {}) =>
    new Promise<T>((resolve, reject) => {
      client[method]!.call(client, request, new grpc.Metadata(), options, (error, response) => (error ? reject(error) : resolve(response as T)));
    });
  return {
    listAgents: () => unary(metaClient, "listAgents", create(ListAgentsRequestSchema, {})),
    createTask: (request, options) =>
      unary(
        asyncClient,
        "createTask",
        create(CreateTaskRequestSchema, {
          template: v1Template(request.template),
          inputs: v1Inputs(request.inputs),
          outputPrefix: request.outputPrefix ?? "",
          taskExecutionMetadata: request.taskExecutionMetadata,
        }),
        options,
      ),
    getTask: (taskType, resourceMeta, options = {}) => {
      const { version = 0, outputPrefix = "", ...callOptions } = options;
      return unary(asyncClient, "getTask", create(GetTaskRequestSchema, { taskType, taskCategory: { name: taskType, version }, resourceMeta, outputPrefix }), callOptions);
    },
    deleteTask: async (taskType, resourceMeta, options = {}) => {
      const { version = 0, ...callOptions } = options;
      await unary(asyncClient, "deleteTask", create(DeleteTaskRequestSchema, { taskType, taskCategory: { name: taskType, version }, resourceMeta }), callOptions);
    },
    executeTaskSync: (header, inputs, options = {}) =>
      new Promise((resolve, reject) => {
        const call = syncClient["executeTaskSync"]!.call(syncClient, options);
        const answers: ExecuteTaskSyncResponse[] = [];
        call.on("data", (answer: ExecuteTaskSyncResponse) => answers.push(answer));
        call.on("error", reject);
        call.on("end", () => resolve(answers));
        const requestHeader: MessageInitShape<typeof ExecuteTaskSyncRequestSchema> = {
          part: { case: "header", value: { template: v1Template(header.template), outputPrefix: header.outputPrefix ?? "" } as CreateRequestHeader },
        };
        call.write(create(ExecuteTaskSyncRequestSchema, requestHeader));
        call.write(create(ExecuteTaskSyncRequestSchema, { part: { case: "inputs", value: v1Inputs(inputs) ?? create(LiteralMapSchema, {}) } }));
        call.end();
      }),
    close: () => asyncClient.close(),
  };
}

/** The Flyte 1 client over grpc-go, dialed as Flyte 1's propeller dials (see go-client.ts). */
function flyte1GoClient(port: number, host: string): Flyte1Client {
  const channel = new GoChannel(port, host);
  const unary = async <I extends DescMessage, O extends DescMessage>(
    method: { input: I; output: O; localName: string; parent: { typeName: string } },
    request: MessageShape<I>,
    options: grpc.CallOptions = {},
  ): Promise<MessageShape<O>> => {
    const answer = await channel.call({ method: methodPath(method), request: toBinary(method.input, request), ...goCallOptions(options) }).result;
    if (answer.code !== grpc.status.OK) throw goServiceError(answer);
    return fromBinary(method.output, answer.responses[0] ?? new Uint8Array());
  };
  const A = AsyncAgentService.method;
  return {
    listAgents: () => unary(AgentMetadataService.method.listAgents, create(ListAgentsRequestSchema, {})),
    createTask: (request, options) =>
      unary(
        A.createTask,
        create(CreateTaskRequestSchema, {
          template: v1Template(request.template),
          inputs: v1Inputs(request.inputs),
          outputPrefix: request.outputPrefix ?? "",
          taskExecutionMetadata: request.taskExecutionMetadata,
        }),
        options,
      ),
    getTask: (taskType, resourceMeta, options = {}) => {
      const { version = 0, outputPrefix = "", ...callOptions } = options;
      return unary(A.getTask, create(GetTaskRequestSchema, { taskType, taskCategory: { name: taskType, version }, resourceMeta, outputPrefix }), callOptions);
    },
    deleteTask: async (taskType, resourceMeta, options = {}) => {
      const { version = 0, ...callOptions } = options;
      await unary(A.deleteTask, create(DeleteTaskRequestSchema, { taskType, taskCategory: { name: taskType, version }, resourceMeta }), callOptions);
    },
    executeTaskSync: async (header, inputs, options = {}) => {
      const method = SyncAgentService.method.executeTaskSync;
      const requests = [
        create(ExecuteTaskSyncRequestSchema, { part: { case: "header", value: { template: v1Template(header.template), outputPrefix: header.outputPrefix ?? "" } as CreateRequestHeader } }),
        create(ExecuteTaskSyncRequestSchema, { part: { case: "inputs", value: v1Inputs(inputs) ?? create(LiteralMapSchema, {}) } }),
      ].map((request) => toBinary(ExecuteTaskSyncRequestSchema, request));
      // Header, inputs, half-close, then every answer: as current propellers stream it.
      const answer = await channel.call({ method: methodPath(method), bidi: true, requests, ...goCallOptions(options) }).result;
      if (answer.code !== grpc.status.OK) throw goServiceError(answer);
      return answer.responses.map((part) => fromBinary(method.output, part));
    },
    close: () => channel.close(),
  };
}
