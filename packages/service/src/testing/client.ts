// A real gRPC client (grpc-js) for the service's tests.
import * as grpc from "@grpc/grpc-js";
import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { AsyncConnectorService, ConnectorMetadataService } from "@flyte-connectors/flyteidl2/flyteidl2/connector/service_pb.js";
import { service as healthService } from "grpc-health-check";
import { serviceDefinition } from "./grpc-definitions.js";

type Unary = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => grpc.ClientUnaryCall;

export interface TestClient {
  unary<I extends DescMessage, O extends DescMessage>(
    method: { input: I; output: O; localName: string; parent: { typeName: string } },
    request: MessageInitShape<I>,
    options?: grpc.CallOptions & { metadata?: grpc.Metadata },
  ): Promise<MessageShape<O>>;
  /** Starts a unary call and returns it (to cancel; only `cancel` is common to the gRPC and Connect clients) with its result. */
  start<I extends DescMessage, O extends DescMessage>(
    method: { input: I; output: O; localName: string; parent: { typeName: string } },
    request: MessageInitShape<I>,
    options?: grpc.CallOptions & { metadata?: grpc.Metadata },
  ): { call: Pick<grpc.ClientUnaryCall, "cancel">; result: Promise<MessageShape<O>> };
  stream<I extends DescMessage, O extends DescMessage>(
    method: { input: I; output: O; localName: string; parent: { typeName: string } },
    request: MessageInitShape<I>,
  ): Promise<MessageShape<O>[]>;
  health: grpc.Client & Record<string, Function>;
  raw: grpc.Client;
  close(): void;
}

export function testClient(port: number, options: grpc.ChannelOptions = {}, credentials = grpc.credentials.createInsecure(), host = "127.0.0.1"): TestClient {
  const address = `${host}:${port}`;
  const Async = grpc.makeGenericClientConstructor(serviceDefinition(AsyncConnectorService), "AsyncConnectorService");
  const Meta = grpc.makeGenericClientConstructor(serviceDefinition(ConnectorMetadataService), "ConnectorMetadataService");
  const Health = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, "Health");
  const channelOptions = { "grpc.max_receive_message_length": 4 * 1024 * 1024, ...options };
  const asyncClient = new Async(address, credentials, channelOptions) as unknown as Record<string, Unary> & grpc.Client;
  const channelOverride = asyncClient.getChannel();
  const metaClient = new Meta(address, credentials, { channelOverride }) as unknown as Record<string, Unary> & grpc.Client;
  const health = new Health(address, credentials, { channelOverride }) as unknown as grpc.Client & Record<string, Function>;
  const pick = (typeName: string) => (typeName === AsyncConnectorService.typeName ? asyncClient : metaClient);
  const start: TestClient["start"] = (method, request, opts = {}) => {
    const client = pick(method.parent.typeName);
    const { metadata, ...callOptions } = opts as grpc.CallOptions & { metadata?: grpc.Metadata };
    let call!: grpc.ClientUnaryCall;
    const result = new Promise<never>((resolve, reject) => {
      const fn = client[method.localName]!.bind(client);
      call = fn(create(method.input, request), metadata ?? new grpc.Metadata(), callOptions, (error, response) =>
        error ? reject(error) : resolve(response as never),
      );
    });
    return { call, result };
  };
  return {
    start,
    unary: (method, request, opts) => start(method, request, opts).result,
    stream: (method, request) =>
      new Promise((resolve, reject) => {
        const parts: never[] = [];
        const fn = (asyncClient as unknown as Record<string, (r: unknown) => grpc.ClientReadableStream<never>>)[method.localName]!.bind(asyncClient);
        const call = fn(create(method.input, request));
        call.on("data", (part: never) => parts.push(part));
        call.on("error", reject);
        call.on("end", () => resolve(parts));
      }),
    health,
    raw: asyncClient,
    close: () => {
      asyncClient.close();
    },
  };
}

/** Health/Check as a promise of the status name. */
export function healthCheck(client: TestClient, service: string, deadlineMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    (client.health["check"] as Function).call(client.health, { service }, { deadline: Date.now() + deadlineMs }, (error: Error | null, response: { status: string }) =>
      error ? reject(error) : resolve(String(response.status)),
    );
  });
}
