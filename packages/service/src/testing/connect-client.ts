// The TestClient of testing/client.ts over the Connect protocol: the official @connectrpc/connect-node client
// (HTTP/1.1, binary codec, as flyte-sdk's backend migration dials the Connect port), so a connector test written
// against TestClient runs unchanged against the service's Connect port. Errors keep the shape of grpc-js's
// ServiceError (the tests read `code`, `details`, `message`, `metadata`); Connect codes share gRPC's numbers.
// Health checks and the `raw` channel stay on gRPC: Connect has no health service (its port answers /healthz), and
// `raw` is grpc-js's own channel.
import * as grpc from "@grpc/grpc-js";
import type { DescMessage, DescMethodServerStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { testClient, type TestClient } from "./client.js";

/** The gRPC call options the Connect client can honour: `deadline` (→ timeoutMs) and `metadata` (→ headers). */
const SUPPORTED_OPTIONS = new Set(["deadline", "metadata"]);

/**
 * A TestClient whose unary, start and stream calls go over the Connect protocol to `connectPort`; `health` and `raw`
 * are a grpc-js client of `grpcPort`.
 */
export function connectTestClient(connectPort: number, grpcPort: number, host = "127.0.0.1"): TestClient {
  const grpcClient = testClient(grpcPort, {}, undefined, host);
  const transport: Transport = createConnectTransport({ baseUrl: `http://${host}:${connectPort}`, httpVersion: "1.1", useBinaryFormat: true });

  const start: TestClient["start"] = (method, request, opts = {}) => {
    const controller = new AbortController();
    const { timeoutMs, headers } = callOptions(opts);
    const result = transport
      .unary(method as unknown as DescMethodUnary<DescMessage, DescMessage>, controller.signal, timeoutMs, headers, request as MessageInitShape<DescMessage>)
      .then((response) => response.message as never, (error: unknown) => Promise.reject(asServiceError(error)));
    return { call: { cancel: () => controller.abort() }, result };
  };

  return {
    start,
    unary: (method, request, opts) => start(method, request, opts).result,
    stream: async <I extends DescMessage, O extends DescMessage>(method: { input: I; output: O }, request: MessageInitShape<I>) => {
      const parts: MessageShape<O>[] = [];
      try {
        const response = await transport.stream(method as unknown as DescMethodServerStreaming<I, O>, undefined, undefined, undefined, single(request));
        for await (const part of response.message) parts.push(part);
      } catch (error) {
        throw asServiceError(error);
      }
      return parts;
    },
    health: grpcClient.health,
    raw: grpcClient.raw,
    close: () => grpcClient.close(),
  };
}

async function* single<T>(value: T): AsyncIterable<T> {
  yield value;
}

/** grpc-js call options → Connect's timeout and headers; anything else is refused rather than silently dropped. */
function callOptions(options: grpc.CallOptions & { metadata?: grpc.Metadata }): { timeoutMs: number | undefined; headers: Headers | undefined } {
  const unsupported = Object.keys(options).filter((key) => !SUPPORTED_OPTIONS.has(key) && (options as Record<string, unknown>)[key] !== undefined);
  if (unsupported.length > 0) throw new Error(`the Connect test client does not support the call options ${unsupported.join(", ")}`);
  let timeoutMs: number | undefined;
  if (options.deadline !== undefined) {
    const at = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
    // Connect reads timeoutMs <= 0 as "no timeout"; a deadline already past must still fail the call (as grpc-js does).
    if (Number.isFinite(at)) timeoutMs = Math.max(1, Math.ceil(at - Date.now()));
  }
  let headers: Headers | undefined;
  if (options.metadata) {
    headers = new Headers();
    // toHttp2Headers base64-encodes -bin values, as the Connect protocol carries binary headers too.
    for (const [key, value] of Object.entries(options.metadata.toHttp2Headers())) {
      for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) headers.append(key, String(one));
    }
  }
  return { timeoutMs, headers };
}

/** A Connect error as grpc-js would have reported the same status: numeric code, the server's message as details. */
function asServiceError(error: unknown): grpc.ServiceError {
  const connect = ConnectError.from(error);
  const metadata = new grpc.Metadata();
  connect.metadata.forEach((value, key) => {
    try {
      if (key.endsWith("-bin")) for (const one of value.split(/,\s*/)) metadata.add(key, Buffer.from(one, "base64"));
      else metadata.add(key, value);
    } catch {
      // A header name grpc-js would not accept as metadata cannot reach a gRPC client either.
    }
  });
  const code = connect.code as number as grpc.status;
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${connect.rawMessage}`, { cause: connect }), {
    code,
    details: connect.rawMessage,
    metadata,
  });
}
