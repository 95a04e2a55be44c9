// The TestClient of testing/client.ts over grpc-go, the client stack both Flyte backends' propellers dial connectors
// with: insecure, `dns:///` target, round_robin, keepalive without PermitWithoutStream (../../interop/client). One
// long-lived Go process per client (`-serve`: calls as JSON lines on stdin, answers on stdout, a cancel command), so
// calls share one grpc-go channel as a propeller's do and cost no process start each. Requests are encoded and
// responses decoded here with protobuf-es; the Go program moves raw bytes, so no generated Go code is needed.
// Errors keep the shape of grpc-js's ServiceError (the tests read `code`, `details`, `message`, `metadata`).
// Health checks and `raw` stay on grpc-js (the Go program has no health client; `raw` is grpc-js's own channel).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { testClient, type TestClient } from "./client.js";
import { buildGoClient } from "./go-build.js";

/** One call as the Go program takes it (see interop/client/main.go). */
export interface GoCallSpec {
  /** `/package.Service/Method`. */
  method: string;
  request?: Uint8Array;
  /** Server streaming: every response is collected. */
  stream?: boolean;
  /** Bidirectional: sends every `requests` message, half-closes, then reads every answer. */
  bidi?: boolean;
  requests?: Uint8Array[];
  /** The grpc-timeout of the call; none when absent. */
  timeoutMs?: number;
  metadata?: grpc.Metadata;
}

export interface GoCallResult {
  code: grpc.status;
  message: string;
  responses: Uint8Array[];
  trailers: grpc.Metadata;
}

interface RawResult {
  code: number;
  message: string;
  responses: string[];
  trailers?: Record<string, string[]>;
}

/**
 * The Go program, built (once per process) or an Error saying why not: the missing package by name, and under
 * CI=true that CI must install it.
 */
export function goClientBinary(): string {
  const built = buildGoClient();
  if ("binary" in built) return built.binary;
  if ("error" in built) throw new Error(`the grpc-go test client: ${built.error}`);
  const ci = process.env["CI"] === "true" ? " (CI=true: CI must install it, see .ci/run)" : "";
  throw new Error(`the grpc-go test client needs Go and grpc-go: ${built.missing}${ci}`);
}

/** A grpc-go channel to `host:port` in a Go process of its own; `call` runs calls on it concurrently. */
export class GoChannel {
  readonly #child: ChildProcessWithoutNullStreams | undefined;
  readonly #pending = new Map<number, { resolve: (result: RawResult) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #stderr = "";
  #exited: Error | undefined;

  /**
   * Without Go or grpc-go (see {@link goClientBinary}) the channel is still made, and every call fails with that
   * error: a test that builds its client after starting the service then fails, rather than throwing before its
   * cleanup is set up and leaving the service running.
   */
  constructor(port: number, host = "127.0.0.1") {
    let binary: string | undefined;
    try {
      binary = goClientBinary();
    } catch (error) {
      this.#exited = error as Error;
    }
    if (binary === undefined) return;
    const child = spawn(binary, ["-serve"], { stdio: ["pipe", "pipe", "pipe"] });
    this.#child = child;
    child.stdin.write(`${JSON.stringify({ target: `dns:///${host}:${port}` })}\n`);
    child.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      const answer = JSON.parse(line) as { id: number; result: RawResult };
      const pending = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      pending?.resolve(answer.result);
      this.#holdOpen();
    });
    const fail = (error: Error) => {
      this.#exited ??= error;
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    };
    child.on("error", (error) => fail(new Error(`the grpc-go test client failed: ${error.message}`, { cause: error })));
    child.on("exit", (code, signal) => fail(new Error(`the grpc-go test client exited (${code ?? signal}): ${this.#stderr}`)));
    // Stdin errors (EPIPE after an exit) surface through "exit" above.
    child.stdin.on("error", () => {});
    this.#holdOpen();
  }

  /** Keeps the Node process alive only while calls are in flight, so a client never closed does not hang a test run. */
  #holdOpen(): void {
    const child = this.#child;
    if (!child) return;
    const busy = this.#pending.size > 0;
    for (const handle of [child, child.stdout, child.stderr, child.stdin] as unknown as { ref(): void; unref(): void }[]) {
      if (busy) handle.ref();
      else handle.unref();
    }
  }

  /** Starts a call; `cancel` cancels its context in the Go process (the server sees RST_STREAM CANCEL). */
  call(spec: GoCallSpec): { cancel(): void; result: Promise<GoCallResult> } {
    const id = this.#nextId++;
    const { metadata, request, requests, ...rest } = spec;
    const result = new Promise<RawResult>((resolve, reject) => {
      if (this.#exited || !this.#child) return reject(this.#exited ?? new Error("the grpc-go test client is not running"));
      this.#pending.set(id, { resolve, reject });
      this.#holdOpen();
      const call = {
        ...rest,
        request: Buffer.from(request ?? new Uint8Array()).toString("base64"),
        requests: requests?.map((message) => Buffer.from(message).toString("base64")),
        closeSendFirst: true,
        ...goMetadata(metadata),
      };
      this.#child.stdin.write(`${JSON.stringify({ id, call })}\n`);
    }).then((raw) => ({
      code: raw.code as grpc.status,
      message: raw.message,
      responses: raw.responses.map((part) => new Uint8Array(Buffer.from(part, "base64"))),
      trailers: grpcMetadata(raw.trailers),
    }));
    return {
      cancel: () => {
        if (this.#pending.has(id)) this.#child?.stdin.write(`${JSON.stringify({ id, cancel: true })}\n`);
      },
      result,
    };
  }

  /** Ends the Go process: calls still running are cancelled and answer CANCELLED. */
  close(): void {
    this.#child?.stdin.end();
  }
}

/** grpc-js Metadata → the Go program's `metadataValues` (text values) and `binMetadata` (base64 values of -bin keys). */
function goMetadata(metadata: grpc.Metadata | undefined): { metadataValues?: Record<string, string[]>; binMetadata?: Record<string, string[]> } {
  if (!metadata) return {};
  const text: Record<string, string[]> = {};
  const bin: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) {
      if (Buffer.isBuffer(value)) (bin[key] ??= []).push(value.toString("base64"));
      else (text[key] ??= []).push(String(value));
    }
  }
  return { metadataValues: text, binMetadata: bin };
}

function grpcMetadata(trailers: Record<string, string[]> | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, values] of Object.entries(trailers ?? {})) {
    for (const value of values) {
      try {
        metadata.add(key, key.endsWith("-bin") ? Buffer.from(value, "base64") : value);
      } catch {
        // A key grpc-js refuses (e.g. a reserved one) is not one a grpc-js caller could read either.
      }
    }
  }
  return metadata;
}

/** A failed call as grpc-js reports the same status: numeric code, the server's message as details, its trailers. */
export function goServiceError(result: GoCallResult): grpc.ServiceError {
  return Object.assign(new Error(`${result.code} ${grpc.status[result.code]}: ${result.message}`), {
    code: result.code,
    details: result.message,
    metadata: result.trailers,
  });
}

/** The gRPC call options the grpc-go client honours: `deadline` (→ grpc-timeout) and `metadata`. */
const SUPPORTED_OPTIONS = new Set(["deadline", "metadata"]);

/** grpc-js call options → the Go call's timeout and metadata; anything else is refused rather than silently dropped. */
export function goCallOptions(options: grpc.CallOptions & { metadata?: grpc.Metadata }): Pick<GoCallSpec, "timeoutMs" | "metadata"> {
  const unsupported = Object.keys(options).filter((key) => !SUPPORTED_OPTIONS.has(key) && (options as Record<string, unknown>)[key] !== undefined);
  if (unsupported.length > 0) throw new Error(`the grpc-go test client does not support the call options ${unsupported.join(", ")}`);
  let timeoutMs: number | undefined;
  if (options.deadline !== undefined) {
    const at = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
    // The Go program reads 0 as "no timeout"; a deadline already past must still fail the call (as grpc-js does).
    if (Number.isFinite(at)) timeoutMs = Math.max(1, Math.ceil(at - Date.now()));
  }
  return { timeoutMs, metadata: options.metadata };
}

/** `/package.Service/Method` of a protobuf-es method descriptor. */
export function methodPath(method: { localName: string; parent: { typeName: string } }): string {
  const name = (method as { name?: string }).name ?? method.localName.charAt(0).toUpperCase() + method.localName.slice(1);
  return `/${method.parent.typeName}/${name}`;
}

/**
 * A TestClient whose unary, start and stream calls go through grpc-go to `port`; `health` and `raw` are a grpc-js
 * client of the same port. Without Go or grpc-go every call fails with an error naming the missing package (so a
 * test's own cleanup still runs: a throw here would skip it and leave its servers running).
 */
export function goTestClient(port: number, host = "127.0.0.1"): TestClient {
  const channel = new GoChannel(port, host);
  const grpcClient = testClient(port, {}, undefined, host);

  const start: TestClient["start"] = (method, request, opts = {}) => {
    const call = channel.call({ method: methodPath(method), request: toBinary(method.input, create(method.input, request)), ...goCallOptions(opts) });
    const result = call.result.then((answer) => {
      if (answer.code !== grpc.status.OK) throw goServiceError(answer);
      return fromBinary(method.output, answer.responses[0] ?? new Uint8Array()) as never;
    });
    return { call: { cancel: call.cancel }, result };
  };

  return {
    start,
    unary: (method, request, opts) => start(method, request, opts).result,
    stream: async <I extends DescMessage, O extends DescMessage>(
      method: { input: I; output: O; localName: string; parent: { typeName: string } },
      request: Parameters<TestClient["stream"]>[1],
    ): Promise<MessageShape<O>[]> => {
      const answer = await channel.call({ method: methodPath(method), request: toBinary(method.input, create(method.input, request as never)), stream: true }).result;
      if (answer.code !== grpc.status.OK) throw goServiceError(answer);
      return answer.responses.map((part) => fromBinary(method.output, part));
    },
    health: grpcClient.health,
    raw: grpcClient.raw,
    close: () => {
      channel.close();
      grpcClient.close();
    },
  };
}
