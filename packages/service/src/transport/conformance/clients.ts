// The official client of every stack the field uses, each started as a real client on its own connection:
// @grpc/grpc-js and @connectrpc/connect-node (gRPC mode) in this process, grpc-go (Debian golang-google-grpc-dev,
// the Flyte backend's stack) and Python grpcio (Debian python3-grpcio, C-core) as child processes. Each runs a
// Batch and reports CallResults in one shape (harness.ts), so a case asserts the same thing for every client.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create, createFileRegistry, fromBinary, toBinary, type DescMethod, type DescMethodStreaming, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import { AnySchema, BytesValueSchema, FileDescriptorProtoSchema, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";

type Bytes = typeof BytesValueSchema;
import { Code as ConnectCode, ConnectError, decodeBinaryHeader, encodeBinaryHeader, type Transport } from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import { StatusSchema } from "@flyte-connectors/flyteidl2/google/rpc/status_pb.js";
import { batchJson, sleep, type Batch, type BatchResult, type CallResult, type CallSpec, type Client } from "./harness.js";

const ROOT = join(import.meta.dirname, "..", "..", "..", "..", "..");
const CACHE_DIR = join(ROOT, "node_modules", ".cache", "flyte-conformance");

/** Response/trailer metadata a result reports: the test's own keys (`x-…`), `-bin` values base64. */
function userMetadata(entries: Iterable<[string, string | Buffer | Uint8Array]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [key, value] of entries) {
    if (!key.startsWith("x-")) continue;
    (out[key] ??= []).push(typeof value === "string" ? value : Buffer.from(value).toString("base64"));
  }
  return out;
}

function deadlineAfter(ms: number | undefined): grpc.Deadline {
  return ms === undefined ? Infinity : Date.now() + ms;
}

async function runCopies(spec: CallSpec, once: () => Promise<CallResult>): Promise<CallResult> {
  if (spec.startAfterMs) await sleep(spec.startAfterMs);
  const n = spec.parallel ?? 1;
  if (n <= 1) return once();
  const all = await Promise.all(Array.from({ length: n }, once));
  return { ...all[0]!, all };
}

function bodies(spec: CallSpec, messages: Uint8Array[]): Pick<CallResult, "sizes" | "responses"> {
  return { sizes: messages.map((m) => m.byteLength), responses: spec.discardBodies ? [] : messages.map((m) => Buffer.from(m).toString("base64")) };
}

// ---------------------------------------------------------------------------------------------------- grpc-js

function grpcJsMetadataEntries(metadata: grpc.Metadata | undefined): [string, string | Buffer][] {
  if (!metadata) return [];
  const out: [string, string | Buffer][] = [];
  for (const key of Object.keys(metadata.getMap())) for (const value of metadata.get(key)) out.push([key, value]);
  return out;
}

export const grpcJsClient: Client = {
  name: "grpc-js",
  available: () => ({ ok: true }),
  async run(batch: Batch): Promise<BatchResult> {
    const options: grpc.ChannelOptions = {
      // Its own connection, not one shared with other clients of the same target.
      "grpc.use_local_subchannel_pool": 1,
      ...(batch.maxReceiveBytes ? { "grpc.max_receive_message_length": batch.maxReceiveBytes } : {}),
      ...(batch.keepaliveMs ? { "grpc.keepalive_time_ms": batch.keepaliveMs, "grpc.keepalive_timeout_ms": 5000 } : {}),
    };
    const client = new grpc.Client(`127.0.0.1:${batch.port}`, grpc.credentials.createInsecure(), options);
    const identity = (b: Buffer) => b;
    const once = (spec: CallSpec) => (): Promise<CallResult> =>
      new Promise((resolve) => {
        const metadata = new grpc.Metadata();
        for (const [key, value] of Object.entries(spec.metadata ?? {})) metadata.add(key, typeof value === "string" ? value : Buffer.from(value));
        if (spec.compression) metadata.set("grpc-internal-encoding-request", spec.compression);
        const started = performance.now();
        const messages: Uint8Array[] = [];
        let headers: grpc.Metadata | undefined;
        let timer: NodeJS.Timeout | undefined;
        const finish = (status: { code: number; details: string; metadata?: grpc.Metadata }) => {
          clearTimeout(timer);
          const details = status.metadata?.get("grpc-status-details-bin")[0];
          resolve({
            code: status.code,
            message: status.details,
            ...bodies(spec, messages),
            headers: userMetadata(grpcJsMetadataEntries(headers)),
            trailers: userMetadata(grpcJsMetadataEntries(status.metadata)),
            ...(details !== undefined ? { details: Buffer.from(details).toString("base64") } : {}),
            ms: performance.now() - started,
          });
        };
        const callOptions = { deadline: deadlineAfter(spec.timeoutMs) };
        const request = Buffer.from(spec.request ?? new Uint8Array());
        if (spec.kind === "server_streaming") {
          const call = client.makeServerStreamRequest(spec.method, identity, identity, request, metadata, callOptions);
          call.on("metadata", (m) => (headers = m));
          call.on("data", (m: Buffer) => {
            messages.push(m);
            if (messages.length === 1 && spec.pauseAfterFirstMs) {
              call.pause();
              setTimeout(() => call.resume(), spec.pauseAfterFirstMs);
            }
          });
          call.on("error", () => {});
          call.on("status", finish);
          if (spec.cancelAfterMs !== undefined) timer = setTimeout(() => call.cancel(), spec.cancelAfterMs);
        } else if (spec.kind === "upload_cancel") {
          const call = client.makeClientStreamRequest(spec.method, identity, identity, metadata, callOptions, () => {});
          call.on("metadata", (m) => (headers = m));
          call.on("status", finish);
          call.write(request);
          timer = setTimeout(() => call.cancel(), spec.cancelAfterMs ?? 0);
        } else {
          const call = client.makeUnaryRequest(spec.method, identity, identity, request, metadata, callOptions, (_error, response) => {
            if (response) messages.push(response);
          });
          call.on("metadata", (m) => (headers = m));
          call.on("status", finish);
          if (spec.cancelAfterMs !== undefined) timer = setTimeout(() => call.cancel(), spec.cancelAfterMs);
        }
      });
    try {
      return { results: await Promise.all(batch.calls.map((spec) => runCopies(spec, once(spec)))) };
    } finally {
      client.close();
    }
  },
};

// ---------------------------------------------------------------------------------------------------- Connect

/**
 * Connect needs method schemas: a descriptor of the suite's service, built here, with BytesValue messages (the
 * suite's payloads are BytesValue-shaped, so the bytes on the wire are what the other clients send raw).
 */
const conformanceService: DescService = (() => {
  const bytes = ".google.protobuf.BytesValue";
  const file = create(FileDescriptorProtoSchema, {
    name: "conformance.proto",
    package: "conformance",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "Test",
        method: [
          { name: "Echo", inputType: bytes, outputType: bytes },
          { name: "EchoUpload", inputType: bytes, outputType: bytes, clientStreaming: true },
          { name: "Stream", inputType: bytes, outputType: bytes, serverStreaming: true },
          { name: "Slow", inputType: bytes, outputType: bytes },
          { name: "Missing", inputType: bytes, outputType: bytes },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined));
  return registry.getService("conformance.Test")!;
})();

function connectMethod(path: string): DescMethod {
  const name = path.split("/").pop();
  const method = path.startsWith("/conformance.Test/") ? conformanceService.methods.find((m) => m.name === name) : undefined;
  if (!method) throw new Error(`the Connect client has no schema for ${path}`);
  return method;
}

/** The serialized google.rpc.Status a Connect error carries (Connect parses grpc-status-details-bin into details). */
function connectDetails(error: ConnectError): string | undefined {
  const raw = error.metadata.get("grpc-status-details-bin");
  if (raw) return Buffer.from(decodeBinaryHeader(raw)).toString("base64");
  const details = error.details.filter((d): d is { type: string; value: Uint8Array } => "type" in d && "value" in d);
  if (details.length === 0) return undefined;
  const status = create(StatusSchema, {
    code: error.code,
    message: error.rawMessage,
    details: details.map((d) => create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value })),
  });
  return Buffer.from(toBinary(StatusSchema, status)).toString("base64");
}

function headerEntries(headers: Headers | undefined): [string, string | Uint8Array][] {
  const out: [string, string | Uint8Array][] = [];
  headers?.forEach((value, key) => {
    for (const one of value.split(/,\s*/)) out.push([key, key.endsWith("-bin") ? decodeBinaryHeader(one) : one]);
  });
  return out;
}

export const connectClient: Client = {
  name: "connect",
  available: () => ({ ok: true }),
  async run(batch: Batch): Promise<BatchResult> {
    const transports = new Map<string, Transport>();
    // One transport (one HTTP/2 connection) per request compression: Connect sets it per transport.
    const transportFor = (compression: string | undefined) => {
      let transport = transports.get(compression ?? "");
      if (!transport) {
        transport = createGrpcTransport({
          baseUrl: `http://127.0.0.1:${batch.port}`,
          ...(compression === "gzip" ? { sendCompression: compressionGzip, compressMinBytes: 0 } : {}),
          ...(batch.maxReceiveBytes ? { readMaxBytes: batch.maxReceiveBytes } : {}),
          ...(batch.keepaliveMs ? { pingIntervalMs: batch.keepaliveMs, pingTimeoutMs: 5000 } : {}),
        });
        transports.set(compression ?? "", transport);
      }
      return transport;
    };
    const once = (spec: CallSpec) => async (): Promise<CallResult> => {
      if (spec.compression && spec.compression !== "gzip") throw new Error(`the Connect client cannot send ${spec.compression}`);
      const transport = transportFor(spec.compression);
      const method = connectMethod(spec.method);
      const header = new Headers();
      for (const [key, value] of Object.entries(spec.metadata ?? {})) header.append(key, typeof value === "string" ? value : encodeBinaryHeader(value));
      const abort = new AbortController();
      const timer = spec.cancelAfterMs !== undefined ? setTimeout(() => abort.abort(), spec.cancelAfterMs) : undefined;
      const input = fromBinary(BytesValueSchema, spec.request ?? new Uint8Array());
      const started = performance.now();
      const messages: Uint8Array[] = [];
      let headers: Headers | undefined;
      let trailers: Headers | undefined;
      try {
        if (method.methodKind === "unary") {
          const response = await transport.unary(method as DescMethodUnary<Bytes, Bytes>, abort.signal, spec.timeoutMs, header, input);
          headers = response.header;
          trailers = response.trailer;
          messages.push(toBinary(BytesValueSchema, response.message));
        } else if (method.methodKind === "server_streaming") {
          const response = await transport.stream(method as DescMethodStreaming<Bytes, Bytes>, abort.signal, spec.timeoutMs, header, (async function* () { yield input; })());
          headers = response.header;
          for await (const message of response.message) {
            messages.push(toBinary(BytesValueSchema, message));
            if (messages.length === 1 && spec.pauseAfterFirstMs) await sleep(spec.pauseAfterFirstMs);
          }
          trailers = response.trailer;
        } else {
          // Client streaming: send the request, never half-close (the generator waits for the abort).
          const signal = abort.signal;
          const requests = (async function* () {
            yield input;
            await new Promise((resolve) => signal.addEventListener("abort", resolve));
          })();
          const response = await transport.stream(method as DescMethodStreaming<Bytes, Bytes>, signal, spec.timeoutMs, header, requests);
          headers = response.header;
          for await (const message of response.message) messages.push(toBinary(BytesValueSchema, message));
          trailers = response.trailer;
        }
        return { code: 0, message: "", ...bodies(spec, messages), headers: userMetadata(headerEntries(headers)), trailers: userMetadata(headerEntries(trailers)), ms: performance.now() - started };
      } catch (caught) {
        const error = ConnectError.from(caught);
        const details = connectDetails(error);
        return {
          code: error.code === ConnectCode.Canceled ? 1 : error.code,
          message: error.rawMessage,
          ...bodies(spec, messages),
          headers: userMetadata(headerEntries(headers)),
          trailers: userMetadata(headerEntries(error.metadata)),
          ...(details ? { details } : {}),
          ms: performance.now() - started,
        };
      } finally {
        clearTimeout(timer);
      }
    };
    return { results: await Promise.all(batch.calls.map((spec) => runCopies(spec, once(spec)))) };
  },
};

// ---------------------------------------------------------------------------------------------------- child processes

function runChild(command: string, args: string[], input: string): Promise<BatchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${command} exited ${code}: ${Buffer.concat(err).toString().slice(-2000)}`));
      try {
        resolve(JSON.parse(Buffer.concat(out).toString()) as BatchResult);
      } catch (error) {
        reject(new Error(`${command} printed no JSON (${String(error)}): ${Buffer.concat(out).toString().slice(0, 500)} ${Buffer.concat(err).toString().slice(-2000)}`));
      }
    });
    child.stdin.end(input);
  });
}

const GO = process.env["GO"] ?? "go";
/** Where the grpc-go sources live (GOPATH layout); Debian's golang-google-grpc-dev installs them here. */
const GRPC_GOPATH = process.env["GRPC_GO_GOPATH"] ?? "/usr/share/gocode";
const GO_CLIENT_DIR = join(ROOT, "packages", "service", "interop", "conformance");

let goBuild: { binary: string } | { reason: string } | undefined;

/** Builds the Go client once (cached by its source, the Go version and the grpc-go version). */
function buildGoClient(): { binary: string } | { reason: string } {
  if (goBuild) return goBuild;
  const version = spawnSync(GO, ["version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) return (goBuild = { reason: `Go toolchain not installed: \`${GO} version\` failed (${version.error?.message ?? version.stderr}); apt-get install golang-go golang-google-grpc-dev` });
  const grpcDir = join(GRPC_GOPATH, "src", "google.golang.org", "grpc");
  if (!existsSync(join(grpcDir, "dialoptions.go"))) return (goBuild = { reason: `grpc-go sources not installed: no ${grpcDir} (apt-get install golang-google-grpc-dev)` });
  const grpcVersion = existsSync(join(grpcDir, "version.go")) ? readFileSync(join(grpcDir, "version.go"), "utf8") : "";
  const key = createHash("sha256").update(readFileSync(join(GO_CLIENT_DIR, "main.go"))).update(version.stdout).update(grpcVersion).digest("hex").slice(0, 16);
  const binary = join(CACHE_DIR, `go-client-${key}`);
  if (existsSync(binary)) return (goBuild = { binary });
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const built = spawnSync(GO, ["build", "-o", tmp, "."], {
    cwd: GO_CLIENT_DIR,
    encoding: "utf8",
    env: { ...process.env, GO111MODULE: "off", GOPATH: GRPC_GOPATH, GOFLAGS: "", GOCACHE: process.env["GOCACHE"] ?? join(CACHE_DIR, "go-build") },
  });
  if (built.status !== 0) return (goBuild = { reason: `go build of ${GO_CLIENT_DIR} failed (${built.status}): ${built.stderr}${built.error?.message ?? ""}` });
  renameSync(tmp, binary);
  return (goBuild = { binary });
}

export const grpcGoClient: Client = {
  name: "grpc-go",
  available() {
    const built = buildGoClient();
    return "binary" in built ? { ok: true } : { ok: false, reason: built.reason };
  },
  run(batch) {
    const built = buildGoClient();
    if (!("binary" in built)) return Promise.reject(new Error(built.reason));
    return runChild(built.binary, [], batchJson(batch));
  },
};

/** Debian's interpreter: `python3` on PATH may be another Python without grpcio. */
const PYTHON = process.env["GRPCIO_PYTHON"] ?? "/usr/bin/python3";
const PYTHON_CLIENT = join(import.meta.dirname, "client.py");
let pythonCheck: { ok: true } | { ok: false; reason: string } | undefined;

export const grpcioClient: Client = {
  name: "grpcio",
  available() {
    if (pythonCheck) return pythonCheck;
    const check = spawnSync(PYTHON, ["-c", "import grpc; print(grpc.__version__)"], { encoding: "utf8" });
    return (pythonCheck = check.status === 0 ? { ok: true } : { ok: false, reason: `Python grpcio not installed: \`${PYTHON} -c "import grpc"\` failed (${check.error?.message ?? check.stderr.trim().split("\n").pop()}); apt-get install python3-grpcio` });
  },
  run(batch) {
    return runChild(PYTHON, [PYTHON_CLIENT], batchJson(batch));
  },
};

export const CLIENTS: readonly Client[] = [grpcJsClient, connectClient, grpcGoClient, grpcioClient];
