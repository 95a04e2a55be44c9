// Flyte 1's agent services (flyteidl.service.AsyncAgentService, SyncAgentService, AgentMetadataService) on the
// same gRPC port, over the same dispatcher and handlers as flyteidl2's: a protocol adapter, not a second service.
//
// flyteidl.admin's agent requests and responses use the field numbers of their flyteidl2.connector counterparts
// (and flyteidl.core's literals, types and templates those of flyteidl2.core; checked by wire.test.ts), so the
// AsyncAgentService methods decode Flyte 1 bytes straight into flyteidl2 messages and encode flyteidl2 answers as
// Flyte 1 bytes: no conversion on the hot path. Only the deprecated `task_type` (field 1, which flyteidl2 dropped)
// is read beside `task_category`. ExecuteTaskSync, which flyteidl2 has no counterpart of, runs the dispatcher's
// executeTaskSync (a sync connector's `do`, its resource answered inline).
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { ConnectorError, type Connector } from "flyte-connectors";
import {
  AgentSchema,
  ExecuteTaskSyncRequestSchema,
  ExecuteTaskSyncResponseSchema,
  GetAgentResponseSchema,
  ListAgentsResponseSchema,
  ResourceSchema as V1ResourceSchema,
  TaskExecutionMetadataSchema as V1TaskExecutionMetadataSchema,
  type Agent,
  type ExecuteTaskSyncRequest,
  type GetAgentRequest,
} from "@flyte-connectors/flyteidl/flyteidl/admin/agent_pb.js";
import { LiteralMapSchema } from "@flyte-connectors/flyteidl/flyteidl/core/literals_pb.js";
import { TaskTemplateSchema as V1TaskTemplateSchema } from "@flyte-connectors/flyteidl/flyteidl/core/tasks_pb.js";
import { AgentMetadataService, AsyncAgentService, SyncAgentService } from "@flyte-connectors/flyteidl/flyteidl/service/agent_pb.js";
import {
  CreateTaskRequestSchema,
  ResourceSchema,
  TaskExecutionMetadataSchema,
} from "@flyte-connectors/flyteidl2/flyteidl2/connector/connector_pb.js";
import { AsyncConnectorService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { TaskTemplateSchema } from "@flyte-connectors/flyteidl2/flyteidl2/core/tasks_pb.js";
import { InputsSchema } from "@flyte-connectors/flyteidl2/flyteidl2/task/common_pb.js";
import { asyncConnectorHandlers, handle, unary, type Handler, type HandlerContext } from "../handlers.js";
import type { MethodDefinition, ServerCall } from "../transport/types.js";

/** What ListAgents needs besides the dispatcher: the connectors served, with their kind (the registry). */
export interface ConnectorLookup {
  list(): Connector[];
}

/** `task_type` (field 1, deprecated): the task type Flyte 1 requests name when `task_category` is unset. */
const TASK_TYPE_FIELD = 1;

/**
 * Decodes a Flyte 1 GetTask/DeleteTask/GetTaskMetrics/GetTaskLogs request as its flyteidl2 counterpart. Without a
 * `task_category` name, the deprecated `task_type` (kept by protobuf-es as an unknown field) names the category,
 * version 0 — as flytekit's server falls back.
 */
function decodeWithTaskType<Desc extends DescMessage>(schema: Desc): (bytes: Uint8Array) => MessageShape<Desc> {
  return (bytes) => {
    const request = fromBinary(schema, bytes) as MessageShape<Desc> & { taskCategory?: { name: string; version: number } };
    if (!request.taskCategory?.name) {
      const field = request.$unknown?.findLast((unknown) => unknown.no === TASK_TYPE_FIELD && unknown.wireType === WireType.LengthDelimited);
      if (field) {
        // The unknown field's data is its length-prefixed value; invalid UTF-8 is replaced, as protobuf-es reads strings.
        const taskType = new BinaryReader(field.data).string();
        if (taskType) request.taskCategory = { $typeName: "flyteidl2.connector.TaskCategory", name: taskType, version: request.taskCategory?.version ?? 0 } as never;
      }
    }
    return request;
  };
}

/** One method of a Flyte 1 service, served by a handler written for flyteidl2 messages (`v2`: the messages it decodes to and answers with). */
function definition(method: DescMethod, handler: Handler, v2: { input: DescMessage; output: DescMessage }, decode?: (bytes: Uint8Array) => unknown): MethodDefinition {
  const kind = method.methodKind;
  if (kind !== "unary" && kind !== "server_streaming") throw new Error(`${method.methodKind} is not served by definition()`);
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    kind,
    decode: decode ?? handler.decode ?? ((bytes: Uint8Array) => fromBinary(v2.input, bytes)),
    encode: (message: unknown) => toBinary(v2.output, message as never),
    // No schema: the messages are flyteidl2's, the method Flyte 1's (a transport's own codec would mix them up).
    schema: undefined,
    handler,
  };
}

/** Re-encodes a message as another schema with the same field numbers (flyteidl.core ↔ flyteidl2.core). */
function convert<From extends DescMessage, To extends DescMessage>(from: From, to: To, message: MessageShape<From>): MessageShape<To> {
  return fromBinary(to, toBinary(from, message));
}

/** ExecuteTaskSync may answer once a header and the inputs have arrived (older propellers wait for the answer before half-closing). */
function syncRequestsComplete(requests: readonly unknown[]): boolean {
  const parts = (requests as ExecuteTaskSyncRequest[]).map((request) => request.part.case);
  return parts.includes("header") && parts.includes("inputs");
}

/** The header and inputs of an ExecuteTaskSync stream; INVALID_ARGUMENT when the stream is not header, then at most one inputs. */
function syncParts(requests: readonly ExecuteTaskSyncRequest[]): { header: Extract<ExecuteTaskSyncRequest["part"], { case: "header" }>["value"]; inputs: MessageShape<typeof LiteralMapSchema> | undefined } {
  const [first, ...rest] = requests;
  if (first?.part.case !== "header") {
    throw new ConnectorError("INVALID_ARGUMENT", "ExecuteTaskSync: the first message must be a header (template, output prefix).");
  }
  let inputs: MessageShape<typeof LiteralMapSchema> | undefined;
  for (const request of rest) {
    if (request.part.case !== "inputs" || inputs) {
      throw new ConnectorError("INVALID_ARGUMENT", "ExecuteTaskSync: after the header, only one inputs message is expected.");
    }
    inputs = request.part.value;
  }
  return { header: first.part.value, inputs };
}

/** Flyte 1's Agent rows: one per connector name and kind (a name may serve sync and async task types), in registration order. */
function agents(lookup: ConnectorLookup | undefined, ctx: HandlerContext): Agent[] {
  if (!lookup) {
    // A dispatcher without a registry (tests): its flyteidl2 listing, every connector async.
    return ctx.dispatcher.listConnectors().connectors.map((connector) =>
      create(AgentSchema, {
        name: connector.name,
        supportedTaskTypes: connector.supportedTaskCategories.map((category) => category.name),
        supportedTaskCategories: connector.supportedTaskCategories.map(({ name, version }) => ({ name, version })),
      }),
    );
  }
  const rows = new Map<string, Agent>();
  for (const connector of lookup.list()) {
    const key = `${connector.kind}\u0000${connector.name}`;
    let agent = rows.get(key);
    if (!agent) rows.set(key, (agent = create(AgentSchema, { name: connector.name, isSync: connector.kind === "sync" })));
    agent.supportedTaskTypes.push(connector.taskTypeName);
    agent.supportedTaskCategories.push({ $typeName: "flyteidl.admin.TaskCategory", name: connector.taskTypeName, version: connector.taskTypeVersion ?? 0 });
  }
  return [...rows.values()];
}

/**
 * The transport methods of Flyte 1's three agent services. `lookup` (the served registry) tells sync connectors
 * apart: ListAgents marks them `is_sync` (ExecuteTaskSync serves only them: the dispatcher checks).
 */
export function flyte1MethodDefinitions(ctx: HandlerContext, lookup: ConnectorLookup | undefined): MethodDefinition[] {
  const v2 = asyncConnectorHandlers(ctx);
  const v2Method = (name: string) => {
    const method = AsyncConnectorService.method[name as keyof typeof AsyncConnectorService.method];
    if (!method) throw new Error(`flyteidl2 AsyncConnectorService has no ${name}`);
    return method;
  };
  const methods: MethodDefinition[] = [];
  for (const method of (AsyncAgentService as DescService).methods) {
    const handler = v2[method.localName];
    if (!handler) throw new Error(`no flyteidl2 handler for Flyte 1 ${method.name}`);
    const target = v2Method(method.localName);
    methods.push(definition(method, handler, target, method.localName === "createTask" ? undefined : decodeWithTaskType(target.input)));
  }

  methods.push(executeTaskSyncDefinition(ctx));

  const metadata: Record<string, Handler> = {
    listAgents: unary(ctx, { op: "list", taskTypeOf: () => "", run: () => create(ListAgentsResponseSchema, { agents: agents(lookup, ctx) }) }),
    getAgent: unary(ctx, {
      op: "get_connector",
      taskTypeOf: () => "",
      run: (request: GetAgentRequest) => {
        const agent = agents(lookup, ctx).find((entry) => entry.name === request.name);
        if (!agent) throw new ConnectorError("NOT_FOUND", `Cannot find connector for name: ${request.name}.`);
        return create(GetAgentResponseSchema, { agent });
      },
    }),
  };
  for (const method of (AgentMetadataService as DescService).methods) {
    const handler = metadata[method.localName];
    if (!handler) throw new Error(`no handler for Flyte 1 ${method.name}`);
    methods.push(definition(method, handler, method));
  }
  return methods;
}

/**
 * ExecuteTaskSync: a header (template, output prefix, execution metadata), then the inputs; answered with one
 * message, a header holding the finished resource with its outputs inline (propeller reads nothing else). Runs
 * the sync connector through the dispatcher, so inputs, outputs, limits, deadlines and errors behave as on every
 * other call; counted as operation "do", as flytekit counts it (errors say "failed to do …", as flytekit's).
 */
function executeTaskSyncDefinition(ctx: HandlerContext): MethodDefinition {
  const method = SyncAgentService.method.executeTaskSync;
  const d = ctx.dispatcher;
  const headerOf = (call: ServerCall) => {
    const first = call.requests[0] as ExecuteTaskSyncRequest | undefined;
    return first?.part.case === "header" ? first.part.value : undefined;
  };
  const handler = handle(ctx, {
    op: "do",
    taskTypeOf: (_request: never, call: ServerCall) => headerOf(call)?.template?.type ?? "",
    answer: async (_request: never, call: ServerCall) => {
      const { header, inputs } = syncParts(call.requests as ExecuteTaskSyncRequest[]);
      const template = header.template;
      if (!template) throw new ConnectorError("INVALID_ARGUMENT", "ExecuteTaskSync: the header's template is required.");
      if (!d.executeTaskSync) throw new ConnectorError("FAILED_PRECONDITION", "This service's dispatcher cannot run ExecuteTaskSync.");
      const resource = await d.executeTaskSync(
        create(CreateTaskRequestSchema, {
          template: convert(V1TaskTemplateSchema, TaskTemplateSchema, template),
          ...(inputs ? { inputs: convert(LiteralMapSchema, InputsSchema, inputs) } : {}),
          outputPrefix: header.outputPrefix,
          ...(header.taskExecutionMetadata
            ? { taskExecutionMetadata: convert(V1TaskExecutionMetadataSchema, TaskExecutionMetadataSchema, header.taskExecutionMetadata) }
            : {}),
        }),
        call.signal,
      );
      const answer = create(ExecuteTaskSyncResponseSchema, {
        res: { case: "header", value: { resource: convert(ResourceSchema, V1ResourceSchema, resource) } },
      });
      if (!call.write(answer)) await call.drained();
      call.end();
      return undefined;
    },
  });
  return {
    path: `/${SyncAgentService.typeName}/${method.name}`,
    kind: "bidi_streaming",
    requestsComplete: syncRequestsComplete,
    decode: (bytes: Uint8Array) => fromBinary(ExecuteTaskSyncRequestSchema, bytes),
    encode: (message: unknown) => toBinary(ExecuteTaskSyncResponseSchema, message as never),
    schema: method,
    handler,
  };
}
